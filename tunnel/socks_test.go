package tunnel

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
)

// socksConnect does a no-auth SOCKS5 CONNECT to a domain name and returns
// the reply code and the conn.
func socksConnect(t *testing.T, proxy, host string, port int) (byte, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := []byte{5, 1, 0, 5, 1, 0, 3, byte(len(host))}
	req = append(req, host...)
	req = append(req, byte(port>>8), byte(port))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	var rep [12]byte
	if _, err := io.ReadFull(c, rep[:12]); err != nil {
		t.Fatalf("socks reply: %v", err)
	}
	if rep[0] != 5 || rep[1] != 0 || rep[2] != 5 {
		t.Fatalf("socks greeting reply % x", rep[:3])
	}
	return rep[3], c
}

func TestDynamicForward(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	echo := sshdtest.EchoServer(t)
	_, port, _ := splitHostPort(echo)
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)},
		Forwards: []profile.Forward{{Name: "socks", Type: profile.Dynamic, Local: "127.0.0.1:0"}}})
	m := e.run()
	p := startReady(t, m, "vps")
	proxy := p.Forwards[0].Listen

	code, c := socksConnect(t, proxy, "localhost", port)
	if code != socksSucceeded {
		t.Fatalf("reply %d", code)
	}
	io.WriteString(c, "via socks")
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "via socks" {
		t.Fatalf("got %q", got)
	}
	// The name went to the server unresolved.
	if ts := srv.seenTargets(); len(ts) != 1 || ts[0] != net.JoinHostPort("localhost", strconv.Itoa(port)) {
		t.Fatalf("server targets %v", ts)
	}

	srv.RefuseChannels(true)
	code, c = socksConnect(t, proxy, "localhost", port)
	c.Close()
	if code != socksNotAllowed {
		t.Fatalf("prohibited: reply %d, want %d", code, socksNotAllowed)
	}
}
