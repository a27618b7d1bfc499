package tunnel

import (
	"bytes"
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestDirectPayload checks the hand-built direct-tcpip request against
// ssh.Marshal of the RFC 4254 message, for IPv4, IPv4-mapped, IPv6, Unix
// and missing originators.
func TestDirectPayload(t *testing.T) {
	type msg struct {
		RAddr string
		RPort uint32
		LAddr string
		LPort uint32
	}
	cases := []struct {
		host  string
		port  int
		orig  net.Addr
		laddr string
		lport uint32
	}{
		{"127.0.0.1", 8080, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53620}, "127.0.0.1", 53620},
		{"db.internal", 5432, &net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 1}, "10.1.2.3", 1},
		{"::1", 65535, &net.TCPAddr{IP: net.ParseIP("fe80::1:2"), Port: 40000}, "fe80::1:2", 40000},
		{"x", 1, &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, "127.0.0.1", 0},
		{"", 0, nil, "127.0.0.1", 0},
		{"h", 22, &net.TCPAddr{}, "127.0.0.1", 0},
	}
	for _, c := range cases {
		got := directPayload(c.host, c.port, c.orig)
		want := ssh.Marshal(&msg{c.host, uint32(c.port), c.laddr, c.lport})
		if !bytes.Equal(got, want) {
			t.Errorf("directPayload(%q, %d, %v) = %q, want %q", c.host, c.port, c.orig, got, want)
		}
		var back msg
		if err := ssh.Unmarshal(got, &back); err != nil || back.RAddr != c.host || back.LAddr != c.laddr {
			t.Errorf("directPayload(%q, %d, %v) does not read back: %+v, %v", c.host, c.port, c.orig, back, err)
		}
	}
}
