package tunnel

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/kuguri/kuguri/profile"
)

// byteConn is a net.Conn that reads a fixed input and records writes.
type byteConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *byteConn) Read(p []byte) (int, error)         { return c.in.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)        { return c.out.Write(p) }
func (c *byteConn) Close() error                       { return nil }
func (c *byteConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1080} }
func (c *byteConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 5123} }
func (c *byteConn) SetDeadline(t time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(t time.Time) error { return nil }

// refLogin parses an RFC 1929 request the simple way: ok reports a complete
// request, match that it carries user and pass.
func refLogin(b []byte, user, pass string) (ok, match bool) {
	if len(b) < 2 || b[0] != 1 {
		return false, false
	}
	ul := int(b[1])
	if len(b) < 2+ul+1 {
		return false, false
	}
	u := string(b[2 : 2+ul])
	pl := int(b[2+ul])
	if len(b) < 3+ul+pl {
		return false, false
	}
	return true, u == user && string(b[3+ul:3+ul+pl]) == pass
}

// FuzzSOCKSHandshake feeds arbitrary client bytes to the SOCKS5 server side
// (greeting, RFC 1929 login, request), with and without a required login.
// It must never panic, must only ever write the protocol's fixed replies,
// and must accept a login only when the bytes carry the right user name and
// password.
func FuzzSOCKSHandshake(f *testing.F) {
	const user, pass = "alice", "pw-ok"
	login := func(u, p string) []byte { return authMsg(u, p) }
	join := func(b ...[]byte) []byte { return bytes.Join(b, nil) }
	conn := connectMsg("localhost", 80)
	seeds := [][]byte{
		{},
		{5},
		{5, 1, 0},
		join([]byte{5, 1, 0}, conn),
		join([]byte{5, 1, 2}, login(user, pass), conn),
		join([]byte{5, 2, 0, 2}, login(user, pass), []byte{5, 1, 0, 1, 127, 0, 0, 1, 0, 80}),
		join([]byte{5, 1, 2}, login(user, pass), []byte{5, 1, 0, 4}, make([]byte, 18)),
		join([]byte{5, 1, 2}, login(user, "pw-no"), conn),
		join([]byte{5, 1, 2}, login("", "")),
		join([]byte{5, 1, 2}, []byte{1, 255}),
		join([]byte{5, 1, 2}, []byte{2, 5}, []byte(user)),
		join([]byte{5, 1, 2}, login(user, pass), []byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}),
		join([]byte{5, 1, 2}, login(user, pass), []byte{5, 1, 0, 9}),
		{4, 1, 0, 80, 127, 0, 0, 1, 0},
		{5, 255},
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	a, err := newSOCKSAuth(profile.Forward{Type: profile.Dynamic, SOCKSUser: user, SOCKSPasswordEnv: "P"}, func(string) string { return pass })
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte, auth bool) {
		c := &byteConn{in: bytes.NewReader(in)}
		var au *socksAuth
		if auth {
			au = a
		}
		req, err := socksHandshake(c, au)
		out := c.out.Bytes()
		if (req == nil) == (err == nil) {
			t.Fatalf("req %v, err %v: want exactly one", req, err)
		}
		// Only fixed replies: method selection (2), login status (2), a
		// request error (10).
		if len(out) > 14 {
			t.Fatalf("wrote %d bytes: % x", len(out), out)
		}
		if len(out) >= 2 && out[0] != 5 {
			t.Fatalf("first reply % x", out)
		}
		if !auth {
			if len(out) >= 2 && out[1] != 0 && out[1] != 0xff {
				t.Fatalf("no-auth forward selected method %#x", out[1])
			}
			return
		}
		if len(out) >= 2 && out[1] != socksMethodPassword && out[1] != socksNoAcceptable {
			t.Fatalf("login forward selected method %#x", out[1])
		}
		loginOK := len(out) >= 4 && bytes.Equal(out[:4], []byte{5, 2, 1, 0})
		if req != nil && !loginOK {
			t.Fatalf("request served without a login: % x", out)
		}
		if len(out) >= 4 && out[1] == socksMethodPassword {
			nm := int(in[1])
			ok, match := refLogin(in[2+nm:], user, pass)
			if !ok {
				t.Fatalf("login status % x for an incomplete login", out[2:4])
			}
			if loginOK != match {
				t.Fatalf("login status % x, credentials match: %v", out[2:4], match)
			}
			if !match && !errors.Is(err, errSOCKSLogin) {
				t.Fatalf("failed login returned %v", err)
			}
		}
	})
}
