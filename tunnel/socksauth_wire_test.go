package tunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// RFC 1928/1929 wire-format tests of dynamic forwards with socks_user,
// driven byte by byte against the forward's listener, with
// internal/sshserver on the other side of the link.

const (
	socksTestUser = "alice"
	socksTestPass = "Zq7-corr3ct-horse-batt3ry" // distinctive, to search logs for
	socksTestEnv  = "KUGURI_TEST_SOCKS_PASSWORD"
)

type socksAuthRig struct {
	m     *Manager
	proxy string // the forward's listen address
	echo  string // an echo service reachable from the SSH server
	logs  *sshdtest.Buffer
}

func authForward() profile.Forward {
	return profile.Forward{Name: "socks", Type: profile.Dynamic, Local: "127.0.0.1:0", SOCKSUser: socksTestUser, SOCKSPasswordEnv: socksTestEnv}
}

// newSOCKSAuthRig runs a Manager (debug-level logs captured) with one
// profile holding f, served by internal/sshserver, and waits until it is up.
func newSOCKSAuthRig(t *testing.T, f profile.Forward, env map[string]string) *socksAuthRig {
	t.Helper()
	e := newEnv(t)
	_, addr := e.sshServer()
	logs := &sshdtest.Buffer{}
	e.opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.opts.Getenv = func(k string) string { return env[k] }
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", addr)}, Forwards: []profile.Forward{f}})
	m := e.run()
	p := startReady(t, m, "vps")
	return &socksAuthRig{m: m, proxy: p.Forwards[0].Listen, echo: sshdtest.EchoServer(t), logs: logs}
}

func (r *socksAuthRig) lastError(t *testing.T) string {
	t.Helper()
	return profState(r.m, "vps").Forwards[0].LastError
}

// dialFrom connects to the proxy from the local address ip ("" = any).
func dialFrom(t *testing.T, proxy, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	c, err := d.Dial("tcp", proxy)
	if err != nil {
		t.Fatalf("dial %s from %q: %v", proxy, ip, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, b ...[]byte) {
	t.Helper()
	if _, err := c.Write(bytes.Join(b, nil)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func expect(t *testing.T, c net.Conn, want []byte, what string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("%s: read: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got % x, want % x", what, got, want)
	}
}

// expectClosed checks that the server sends nothing more and closes.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	b, err := io.ReadAll(c)
	if len(b) != 0 {
		t.Fatalf("%s: got % x before close, want nothing", what, b)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: want the connection closed, got %v", what, err)
	}
}

// authMsg is an RFC 1929 request.
func authMsg(user, pass string) []byte {
	b := []byte{1, byte(len(user))}
	b = append(b, user...)
	b = append(b, byte(len(pass)))
	return append(b, pass...)
}

// connectMsg is a CONNECT request for host:port by domain name.
func connectMsg(host string, port int) []byte {
	b := []byte{5, 1, 0, 3, byte(len(host))}
	b = append(b, host...)
	return append(b, byte(port>>8), byte(port))
}

var connectOK = []byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}

// echoThrough checks that c, past a successful CONNECT, reaches the echo
// service.
func echoThrough(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	send(t, c, []byte(msg))
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != msg {
		t.Fatalf("through the proxy: got %q, %v; want %q", got, err, msg)
	}
}

func TestSOCKSAuthGoodLogin(t *testing.T) {
	r := newSOCKSAuthRig(t, authForward(), map[string]string{socksTestEnv: socksTestPass})
	_, port, _ := splitHostPort(r.echo)
	for _, greeting := range [][]byte{
		{5, 1, 2},    // username/password only
		{5, 2, 0, 2}, // no-auth and username/password: the server picks 0x02
		{5, 3, 1, 2, 0x80},
	} {
		c := dialFrom(t, r.proxy, "")
		send(t, c, greeting)
		expect(t, c, []byte{5, 2}, "method selection")
		send(t, c, authMsg(socksTestUser, socksTestPass))
		expect(t, c, []byte{1, 0}, "auth status")
		send(t, c, connectMsg("localhost", port))
		expect(t, c, connectOK, "connect reply")
		echoThrough(t, c, "through an authenticated SOCKS5 proxy")
	}
	// Pipelined (greeting, auth and CONNECT in one write) works too.
	c := dialFrom(t, r.proxy, "")
	send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass), connectMsg("127.0.0.1", port))
	expect(t, c, []byte{5, 2, 1, 0}, "greeting and auth replies")
	expect(t, c, connectOK, "connect reply")
	echoThrough(t, c, "pipelined")
	if le := r.lastError(t); le != "" {
		t.Errorf("LastError after good logins: %q", le)
	}
}

func TestSOCKSAuthWrongCredentials(t *testing.T) {
	r := newSOCKSAuthRig(t, authForward(), map[string]string{socksTestEnv: socksTestPass})
	_, port, _ := splitHostPort(r.echo)
	for _, tc := range []struct{ name, user, pass string }{
		{"wrong password", socksTestUser, "wrong-guess-1"},
		{"wrong user", "mallory", socksTestPass},
		{"password prefix", socksTestUser, socksTestPass[:len(socksTestPass)-1]},
		{"empty", "", ""},
	} {
		c := dialFrom(t, r.proxy, "")
		send(t, c, []byte{5, 1, 2})
		expect(t, c, []byte{5, 2}, tc.name+": method selection")
		// A client that sends CONNECT at once must not get it served.
		send(t, c, authMsg(tc.user, tc.pass), connectMsg("localhost", port))
		expect(t, c, []byte{1, 1}, tc.name+": auth status")
		expectClosed(t, c, tc.name)
		want := "socks: client " + c.LocalAddr().String() + ": bad username or password"
		waitFor(t, 5*time.Second, "LastError "+want, func() bool { return r.lastError(t) == want })
	}
	if s := r.lastError(t); strings.Contains(s, "wrong-guess") || strings.Contains(s, "mallory") {
		t.Errorf("LastError %q shows offered credentials", s)
	}
}

func TestSOCKSAuthNoAuthClientRefused(t *testing.T) {
	r := newSOCKSAuthRig(t, authForward(), map[string]string{socksTestEnv: socksTestPass})
	c := dialFrom(t, r.proxy, "")
	send(t, c, []byte{5, 1, 0})
	expect(t, c, []byte{5, 0xff}, "method selection")
	expectClosed(t, c, "no-auth only client")
	waitFor(t, 5*time.Second, "LastError", func() bool {
		return strings.Contains(r.lastError(t), "no acceptable auth method (this forward takes username/password only)")
	})

	// And a forward without socks_user still refuses a client that can only
	// do username/password.
	plain := newSOCKSAuthRig(t, profile.Forward{Name: "socks", Type: profile.Dynamic, Local: "127.0.0.1:0"}, nil)
	c = dialFrom(t, plain.proxy, "")
	send(t, c, []byte{5, 1, 2})
	expect(t, c, []byte{5, 0xff}, "plain forward, method selection")
	expectClosed(t, c, "plain forward")
}

func TestSOCKSAuthMalformed(t *testing.T) {
	r := newSOCKSAuthRig(t, authForward(), map[string]string{socksTestEnv: socksTestPass})
	for _, tc := range []struct {
		name  string
		in    []byte
		reply []byte // expected before the close
	}{
		{"SOCKS4", []byte{4, 1, 0, 80, 127, 0, 0, 1, 0}, nil},
		{"no methods", []byte{5, 0}, []byte{5, 0xff}},
		{"truncated greeting", []byte{5, 9, 2}, nil},
		{"auth version 5", append([]byte{5, 1, 2}, 5, 5, 'a', 'l', 'i', 'c', 'e'), []byte{5, 2}},
		{"auth version 0", []byte{5, 1, 2, 0, 0, 0}, []byte{5, 2}},
		{"truncated user", []byte{5, 1, 2, 1, 200, 'a', 'b'}, []byte{5, 2}},
		{"truncated password", append(append([]byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass)...)[:3+2+5+1+4], 0), []byte{5, 2}},
		{"missing PLEN", append([]byte{5, 1, 2, 1, 5}, "alice"...), []byte{5, 2}},
		{"zero lengths", []byte{5, 1, 2, 1, 0, 0}, []byte{5, 2, 1, 1}},
		{"max lengths", append(append([]byte{5, 1, 2, 1, 255}, bytes.Repeat([]byte{'u'}, 255)...), append([]byte{255}, bytes.Repeat([]byte{'p'}, 255)...)...), []byte{5, 2, 1, 1}},
		{"good login, bad request version", append(append([]byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass)...), 4, 1, 0, 1), []byte{5, 2, 1, 0}},
		{"good login, BIND", append(append([]byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass)...), 5, 2, 0, 1, 127, 0, 0, 1, 0, 80), []byte{5, 2, 1, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, r.proxy, "")
			send(t, c, tc.in)
			c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tc.reply) {
				t.Fatalf("got % x, want % x, then close", got, tc.reply)
			}
		})
	}
	// The forward survived all of it.
	_, port, _ := splitHostPort(r.echo)
	c := dialFrom(t, r.proxy, "")
	send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass), connectMsg("localhost", port))
	expect(t, c, append([]byte{5, 2, 1, 0}, connectOK...), "after malformed clients")
	echoThrough(t, c, "still serving")
}

// After socksMaxFailures bad logins an address is refused before a byte is
// read, even with the right password; other addresses are not affected.
func TestSOCKSAuthRateLimit(t *testing.T) {
	r := newSOCKSAuthRig(t, authForward(), map[string]string{socksTestEnv: socksTestPass})
	_, port, _ := splitHostPort(r.echo)
	for i := range socksMaxFailures {
		c := dialFrom(t, r.proxy, "127.0.0.1")
		send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, "guess-"+strconv.Itoa(i)))
		expect(t, c, []byte{5, 2, 1, 1}, "bad login "+strconv.Itoa(i))
		expectClosed(t, c, "bad login")
	}
	waitFor(t, 5*time.Second, "the block on LastError", func() bool {
		return strings.Contains(r.lastError(t), "(5 failures: 127.0.0.1 blocked for 1m0s)")
	})
	c := dialFrom(t, r.proxy, "127.0.0.1")
	send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass), connectMsg("localhost", port))
	expectClosed(t, c, "blocked address, right password")
	waitFor(t, 5*time.Second, "refusal on LastError", func() bool {
		le := r.lastError(t)
		return strings.Contains(le, "refused: 5 failed logins from 127.0.0.1, blocked for another ")
	})

	// Another loopback address is served (Linux routes all of 127/8 to lo).
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	probe, err := d.Dial("tcp", r.proxy)
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2 here: %v", err)
	}
	probe.Close()
	c = dialFrom(t, r.proxy, "127.0.0.2")
	send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass), connectMsg("localhost", port))
	expect(t, c, append([]byte{5, 2, 1, 0}, connectOK...), "other address")
	echoThrough(t, c, "not blocked")
}

func TestLoginLimiter(t *testing.T) {
	l := newLoginLimiter()
	a := netip.MustParsePrefix("10.0.0.7/32")
	b := netip.MustParsePrefix("2001:db8:1:2::/64")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	// Failures spread over more than the window never block.
	for i := range 3 * socksMaxFailures {
		if l.fail(a, t0.Add(time.Duration(i)*socksFailWindow/time.Duration(socksMaxFailures-1))) {
			t.Fatalf("blocked after %d failures spread over windows", i+1)
		}
	}
	l.succeed(a)
	for i := range socksMaxFailures - 1 {
		if l.fail(a, t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("blocked after %d failures", i+1)
		}
	}
	if l.blocked(a, t0.Add(10*time.Second)) != 0 {
		t.Fatal("blocked before the limit")
	}
	now := t0.Add(10 * time.Second)
	if !l.fail(a, now) {
		t.Fatalf("not blocked after %d failures in %s", socksMaxFailures, 10*time.Second)
	}
	if got := l.blocked(a, now.Add(time.Second)); got != socksBlockFor-time.Second {
		t.Fatalf("blocked for %s, want %s", got, socksBlockFor-time.Second)
	}
	if l.blocked(b, now) != 0 {
		t.Fatal("another address is blocked")
	}
	if l.blocked(a, now.Add(socksBlockFor)) != 0 {
		t.Fatal("still blocked after socksBlockFor")
	}
	// A success forgets the failures.
	for i := range socksMaxFailures - 1 {
		l.fail(b, now.Add(time.Duration(i)*time.Second))
	}
	l.succeed(b)
	if l.fail(b, now.Add(5*time.Second)) {
		t.Fatal("failures before a success still counted")
	}

	// The table stays bounded under a flood of addresses.
	for i := range socksMaxTracked + 100 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		l.fail(netip.PrefixFrom(ip, 32), now)
	}
	if n := len(l.byIP); n > socksMaxTracked {
		t.Fatalf("%d entries, want at most %d", n, socksMaxTracked)
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{
		"10.0.0.7:5123":               "10.0.0.7",
		"[::ffff:10.0.0.7]:5123":      "10.0.0.7",
		"[2001:db8:1:2:3:4:5:6]:1080": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:1080":         "fe80::/64",
	} {
		ap := netip.MustParseAddrPort(addr)
		if got := keyText(clientKey(net.TCPAddrFromAddrPort(ap))); got != want {
			t.Errorf("clientKey(%s) = %s, want %s", addr, got, want)
		}
	}
}

// The password never shows up in debug logs, the snapshot (as the control
// socket and status --json send it) or any error.
func TestSOCKSAuthSecretStaysOut(t *testing.T) {
	r := newSOCKSAuthRig(t, authForward(), map[string]string{socksTestEnv: socksTestPass})
	_, port, _ := splitHostPort(r.echo)
	c := dialFrom(t, r.proxy, "")
	send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass), connectMsg("localhost", port))
	expect(t, c, append([]byte{5, 2, 1, 0}, connectOK...), "good login")
	echoThrough(t, c, "x")
	const offered = "0ffered-Wr0ng-Passw0rd"
	c = dialFrom(t, r.proxy, "")
	send(t, c, []byte{5, 1, 2}, authMsg("eve-offered-user", offered))
	expect(t, c, []byte{5, 2, 1, 1}, "bad login")
	// The forward logs the failure, then records it as its last error:
	// wait for the second, which comes last.
	var js []byte
	waitFor(t, 5*time.Second, "the failed login in the snapshot", func() bool {
		snap, err := r.m.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if js, err = json.Marshal(snap); err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(js, []byte("bad username or password"))
	})
	logs := r.logs.String()
	if !strings.Contains(logs, "SOCKS login failed") {
		t.Errorf("the failed login was not logged:\n%s", logs)
	}
	if !strings.Contains(logs, "level=DEBUG") {
		t.Fatalf("no debug lines captured; logs:\n%s", logs)
	}
	for _, secret := range []string{socksTestPass, offered, "eve-offered-user"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
		if bytes.Contains(js, []byte(secret)) {
			t.Errorf("snapshot JSON contains %q: %s", secret, js)
		}
	}
	if !bytes.Contains(js, []byte("bad username or password")) {
		t.Errorf("snapshot JSON lacks the failed login: %s", js)
	}
}

// The password is read at start: a missing variable or a bad file fails
// the profile with api.ErrConfig naming the forward and the variable or
// file, never the value.
func TestSOCKSAuthStartErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := writeFile("open", socksTestPass+"\n", 0o644)
	group := writeFile("group", socksTestPass+"\n", 0o640)
	empty := writeFile("empty", "\nsecond line\n", 0o600)
	long := writeFile("long", strings.Repeat("p", 256)+"\n", 0o600)
	missing := filepath.Join(dir, "missing")
	fileFwd := func(p string) profile.Forward {
		f := authForward()
		f.SOCKSPasswordEnv, f.SOCKSPasswordFile = "", p
		return f
	}
	tests := []struct {
		name  string
		f     profile.Forward
		env   map[string]string
		wants []string
	}{
		{"unset env", authForward(), nil, []string{"environment variable " + socksTestEnv + " is not set or empty"}},
		{"readable by others", fileFwd(open), nil, []string{open, "permissions 0644 are too open", "chmod 600 " + open}},
		{"readable by group", fileFwd(group), nil, []string{group, "permissions 0640 are too open"}},
		{"missing file", fileFwd(missing), nil, []string{missing, "no such file or directory"}},
		{"empty first line", fileFwd(empty), nil, []string{empty, "the first line is empty"}},
		{"too long", fileFwd(long), nil, []string{long, "password longer than 255 bytes"}},
		{"directory", fileFwd(dir), nil, []string{dir, "not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := e.server()
			e.opts.Getenv = func(k string) string { return tt.env[k] }
			e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{tt.f}})
			m := e.run()
			m.Start(context.Background(), "vps")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := m.WaitReady(ctx, "vps")
			if !errors.Is(err, api.ErrConfig) {
				t.Fatalf("err %v, want api.ErrConfig", err)
			}
			for _, w := range append([]string{`profile "vps"`, `forward "socks"`}, tt.wants...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), socksTestPass) {
				t.Errorf("err %q shows the password", err)
			}
			p := profState(m, "vps")
			if p.State != api.Failed || strings.Contains(p.LastError, socksTestPass) {
				t.Errorf("profile %s, last error %q", p.State, p.LastError)
			}
		})
	}
}

// socks_password_file: the first line is the password.
func TestSOCKSAuthPasswordFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "socks-password")
	if err := os.WriteFile(p, []byte(socksTestPass+"\r\nnot part of it\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := authForward()
	f.SOCKSPasswordEnv, f.SOCKSPasswordFile = "", p
	r := newSOCKSAuthRig(t, f, nil)
	_, port, _ := splitHostPort(r.echo)
	c := dialFrom(t, r.proxy, "")
	send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass+"\r"))
	expect(t, c, []byte{5, 2, 1, 1}, "password with the line end")
	c = dialFrom(t, r.proxy, "")
	send(t, c, []byte{5, 1, 2}, authMsg(socksTestUser, socksTestPass), connectMsg("localhost", port))
	expect(t, c, append([]byte{5, 2, 1, 0}, connectOK...), "first line")
	echoThrough(t, c, "password from a file")
}
