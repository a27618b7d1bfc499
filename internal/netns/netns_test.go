//go:build linux

package netns

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes from %s: %v", n, c.RemoteAddr(), err)
	}
	return string(buf)
}

func TestNamespacesAreUniqueAndRemoved(t *testing.T) {
	Require(t)
	var names []string
	t.Run("make", func(t *testing.T) {
		a, b := New(t, "a"), New(t, "a")
		if a.Name == b.Name {
			t.Fatalf("two namespaces for one role share the name %q", a.Name)
		}
		for _, n := range []*NS{a, b} {
			if !strings.HasPrefix(n.Name, "kg") || !strings.Contains(n.Name, "-"+strconv.Itoa(os.Getpid())+"-") {
				t.Errorf("name %q: want kg<random>-<pid>-<role>", n.Name)
			}
			if _, err := os.Stat(n.Path()); err != nil {
				t.Errorf("namespace %s: %v", n.Name, err)
			}
			names = append(names, n.Name)
		}
		// Veths made inside namespaces leave nothing in the root namespace.
		Veth(t, a, "x0", "10.231.9.1/24", b, "x1", "10.231.9.2/24")
		if out, _ := run(nil, "ip", "-o", "link", "show"); strings.Contains(out, "x0@") || strings.Contains(out, "x1@") {
			t.Errorf("veth visible in the root namespace:\n%s", out)
		}
		c, err := a.Dial("10.231.9.2:9", 5*time.Second)
		if err == nil {
			c.Close()
			t.Fatal("port 9 on b answered; nothing listens there")
		}
		if !strings.Contains(err.Error(), "refused") {
			t.Errorf("dial b from a: %v, want connection refused (b is reachable, the port closed)", err)
		}
	})
	for _, n := range names {
		if _, err := os.Stat(runDir + "/" + n); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still there after cleanup (%v)", n, err)
		}
	}
}

func TestTopologyReachability(t *testing.T) {
	tp := NewTopology(t, Options{Bastion: true})

	// The client reaches sshd on the VPS, and the bastion.
	for _, addr := range []string{tp.SSHD.Addr, tp.Bastion.Addr} {
		c, err := tp.Client.Dial(addr, 10*time.Second)
		if err != nil {
			t.Fatalf("client -> sshd %s: %v", addr, err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
			t.Fatalf("client -> sshd %s: banner %q, %v", addr, line, err)
		}
	}
	// The VPS's services listen on its loopback only.
	if c, err := tp.Client.Dial(net.JoinHostPort(VPSIP, "5432"), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("client reached the db on the VPS's public address")
	}
	// From the VPS itself they work.
	c, err := tp.VPS.Dial(DBAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("vps -> db: %v", err)
	}
	io.WriteString(c, "ping")
	if got := readN(t, c, 4); got != "ping" {
		t.Fatalf("db echoed %q", got)
	}
	c.Close()

	// Windows is reachable from the VPS, not from the client.
	c, err = tp.VPS.Dial(RDPAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("vps -> rdp: %v", err)
	}
	if got := readN(t, c, len(RDPBanner)); got != RDPBanner {
		t.Fatalf("rdp banner %q", got)
	}
	c.Close()
	if c, err := tp.Client.Dial(RDPAddr, 3*time.Second); err == nil {
		c.Close()
		t.Fatal("client reached the Windows host directly")
	}

	// The client's source address is ClientIP, then the moved one.
	probeSource := func() string {
		c, err := tp.Client.Dial(tp.SSHD.Addr, 10*time.Second)
		if err != nil {
			t.Fatalf("client -> sshd: %v", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.TCPAddr).IP.String()
	}
	if got := probeSource(); got != ClientIP {
		t.Fatalf("client source %s, want %s", got, ClientIP)
	}
	tp.MoveClient(t, "10.231.1.77")
	if got := probeSource(); got != "10.231.1.77" {
		t.Fatalf("client source after MoveClient %s, want 10.231.1.77", got)
	}
	if c, err := tp.Client.Dial(RDPAddr, 3*time.Second); err == nil {
		c.Close()
		t.Fatal("client reached the Windows host directly after moving")
	}
}

func TestBlackHoleIsSilent(t *testing.T) {
	tp := NewTopology(t, Options{})
	tp.VPS.BlackHole(t)
	start := time.Now()
	c, err := tp.Client.Dial(tp.SSHD.Addr, 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("dial through the black hole succeeded")
	}
	// Silent: the dial times out, nothing refuses it.
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) < 1500*time.Millisecond {
		t.Fatalf("dial through the black hole: %v after %v, want a timeout after 2s", err, time.Since(start))
	}
	tp.VPS.ClearBlackHole(t)
	c, err = tp.Client.Dial(tp.SSHD.Addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial after clearing the black hole: %v", err)
	}
	c.Close()
}

func TestServiceStopStart(t *testing.T) {
	ns := New(t, "svc")
	s := NewService(t, ns, "echo", "127.0.0.1:7000", Echo)
	held, err := ns.Dial(s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	io.WriteString(held, "x")
	readN(t, held, 1)
	s.Stop()
	// The held connection is closed, new ones are refused.
	_ = held.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := held.Read(make([]byte, 1)); err == nil {
		t.Fatalf("held connection read %d bytes after Stop", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("held connection still open after Stop")
	}
	if c, err := ns.Dial(s.Addr, 5*time.Second); err == nil {
		c.Close()
		t.Fatal("stopped service accepted a connection")
	}
	s.Start(t)
	c, err := ns.Dial(s.Addr, 5*time.Second)
	if err != nil {
		t.Fatalf("after Start: %v", err)
	}
	io.WriteString(c, "y")
	if got := readN(t, c, 1); got != "y" {
		t.Fatalf("echo after restart %q", got)
	}
	c.Close()
	if got := s.Accepted(); got != 2 {
		t.Errorf("Accepted() = %d, want 2", got)
	}
}

func TestHTTPPage(t *testing.T) {
	ns := New(t, "http")
	s := NewService(t, ns, "admin", AdminAddr, HTTPPage(AdminBody))
	c, err := ns.Dial(s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(out), "\r\n\r\n"+AdminBody) {
		t.Fatalf("response %q", out)
	}
}
