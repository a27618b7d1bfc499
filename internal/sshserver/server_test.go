package sshserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// start serves cfg on a fresh loopback port; the server is closed at
// cleanup and Serve must then return ErrServerClosed.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-served:
			if !errors.Is(err, ErrServerClosed) && !errors.Is(err, ErrKilled) {
				t.Errorf("Serve returned %v, want ErrServerClosed or ErrKilled", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	waitFor(t, "server address", func() bool { return s.Addr() != "" })
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

func clientConfig(s *Server, auth ...ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            "tester",
		Auth:            auth,
		HostKeyCallback: ssh.FixedHostKey(s.HostKey()),
		Timeout:         10 * time.Second,
	}
}

func dial(t *testing.T, s *Server, key ssh.Signer) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", s.Addr(), clientConfig(s, ssh.PublicKeys(key)))
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

func TestNewNeedsAnAuthMethod(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without keys or password succeeded")
	}
}

func TestAuth(t *testing.T) {
	good, bad := newSigner(t), newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{good.PublicKey()}, Password: "hunter2"})
	for _, tc := range []struct {
		name string
		auth ssh.AuthMethod
		ok   bool
	}{
		{"authorized key", ssh.PublicKeys(good), true},
		{"unknown key", ssh.PublicKeys(bad), false},
		{"password", ssh.Password("hunter2"), true},
		{"wrong password", ssh.Password("hunter3"), false},
	} {
		c, err := ssh.Dial("tcp", s.Addr(), clientConfig(s, tc.auth))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if c != nil {
			c.Close()
		}
	}
	waitFor(t, "stats", func() bool { st := s.Stats(); return st.Conns == 2 && st.FailedHandshakes == 2 })

	// Without a password, password auth is not offered at all.
	nopw := start(t, Config{AuthorizedKeys: []ssh.PublicKey{good.PublicKey()}})
	if _, err := ssh.Dial("tcp", nopw.Addr(), clientConfig(nopw, ssh.Password(""))); err == nil {
		t.Error("empty password accepted by a server without Password")
	}
}

func TestBannerAndHostKey(t *testing.T) {
	key := newSigner(t)
	host := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}, HostKey: host, Banner: "demo VPS\n"})
	if !bytes.Equal(s.HostKey().Marshal(), host.PublicKey().Marshal()) {
		t.Fatal("HostKey() is not Config.HostKey")
	}
	var banner string
	cfg := clientConfig(s, ssh.PublicKeys(key))
	cfg.BannerCallback = func(m string) error { banner = m; return nil }
	c, err := ssh.Dial("tcp", s.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if banner != "demo VPS\n" {
		t.Fatalf("banner = %q", banner)
	}
}

func TestDirectTCPIPEchoHalfClose(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	echo := sshdtest.EchoServer(t)
	c := dial(t, s, key)
	conn, err := c.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, "ping")
	// Half-close: our EOF reaches the echo service, which then closes its
	// side; we read the rest and then EOF.
	if _, err := io.WriteString(conn, "last words"); err != nil {
		t.Fatal(err)
	}
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(conn)
	if err != nil || string(rest) != "last words" {
		t.Fatalf("after CloseWrite read %q, %v", rest, err)
	}
	if got := s.Opened(); !slices.Equal(got, []string{echo}) {
		t.Fatalf("Opened() = %v, want [%s]", got, echo)
	}
	if st := s.Stats(); st.Channels != 1 || st.ActiveConns != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestDialHookAndDialFailure(t *testing.T) {
	key := newSigner(t)
	echo := sshdtest.EchoServer(t)
	s := start(t, Config{
		AuthorizedKeys: []ssh.PublicKey{key.PublicKey()},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "10.0.0.5:3389" {
				var d net.Dialer
				return d.DialContext(ctx, network, echo)
			}
			return nil, errors.New("no route in demo")
		},
	})
	c := dial(t, s, key)
	conn, err := c.Dial("tcp", "10.0.0.5:3389")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "rdp?")
	conn.Close()
	_, err = c.Dial("tcp", "10.0.0.6:22")
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed {
		t.Fatalf("dial unmapped target: %v, want ConnectionFailed", err)
	}
	if got := s.Opened(); !slices.Equal(got, []string{"10.0.0.5:3389"}) {
		t.Fatalf("Opened() = %v", got)
	}
	if st := s.Stats(); st.RefusedChannels != 1 {
		t.Fatalf("RefusedChannels = %d, want 1", st.RefusedChannels)
	}
}

func TestTCPIPForwardRoundTrip(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	l, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if port == 0 {
		t.Fatal("server did not report the chosen port")
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	accepted := make(chan net.Conn, 1)
	go func() {
		rc, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- rc
	}()
	outside, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the remote listener %s: %v", addr, err)
	}
	defer outside.Close()
	var rc net.Conn
	select {
	case rc = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("forwarded connection never reached the client")
	}
	if rc == nil {
		t.Fatal("Accept failed")
	}
	defer rc.Close()
	if _, err := io.WriteString(outside, "from outside"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("from outside"))
	if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "from outside" {
		t.Fatalf("client got %q, %v", buf, err)
	}
	if _, err := io.WriteString(rc, "to outside"); err != nil {
		t.Fatal(err)
	}
	buf = make([]byte, len("to outside"))
	if _, err := io.ReadFull(outside, buf); err != nil || string(buf) != "to outside" {
		t.Fatalf("outside got %q, %v", buf, err)
	}
	if st := s.Stats(); st.Forwards != 1 {
		t.Fatalf("Forwards = %d, want 1", st.Forwards)
	}
	// cancel-tcpip-forward unbinds the port.
	if err := l.Close(); err != nil {
		t.Fatalf("cancel forward: %v", err)
	}
	waitFor(t, "forward listener closed", func() bool { return s.Stats().Forwards == 0 })
	if c2, err := net.Dial("tcp", addr); err == nil {
		c2.Close()
		t.Fatal("remote port still accepts after cancel-tcpip-forward")
	}
}

func TestForwardClosedWithConnection(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, "forwards released", func() bool { return s.Stats().Forwards == 0 && s.Stats().ActiveConns == 0 })
}

func TestKeepaliveReply(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil || ok {
		t.Fatalf("keepalive: ok=%v err=%v, want a false reply like OpenSSH", ok, err)
	}
	ok, _, err = c.SendRequest("no-such-request@example.com", true, nil)
	if err != nil || ok {
		t.Fatalf("unknown request: ok=%v err=%v, want a false reply", ok, err)
	}
	if st := s.Stats(); st.Keepalives != 1 {
		t.Fatalf("Keepalives = %d, want 1", st.Keepalives)
	}
}

func TestPauseIsASilentBlackHole(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	s.Pause(true)
	if !s.Paused() {
		t.Fatal("Paused() = false after Pause(true)")
	}
	replied := make(chan error, 1)
	go func() {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		replied <- err
	}()
	select {
	case err := <-replied:
		t.Fatalf("keepalive answered while paused (err=%v)", err)
	case <-time.After(300 * time.Millisecond): // bounded wait: no answer must come
	}
	// Still connected, only silent.
	if st := s.Stats(); st.ActiveConns != 1 {
		t.Fatalf("ActiveConns = %d while paused, want 1", st.ActiveConns)
	}
	s.Pause(false)
	select {
	case err := <-replied:
		if err != nil {
			t.Fatalf("keepalive after unpause: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("keepalive never answered after unpause")
	}
	// The connection works normally again.
	conn, err := c.Dial("tcp", sshdtest.EchoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "after pause")
	conn.Close()
}

func TestPauseStallsNewHandshakes(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	s.Pause(true)
	cfg := clientConfig(s, ssh.PublicKeys(key))
	cfg.Timeout = 0
	done := make(chan error, 1)
	go func() {
		c, err := ssh.Dial("tcp", s.Addr(), cfg)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("handshake finished while paused: %v", err)
	case <-time.After(300 * time.Millisecond): // bounded wait: no answer must come
	}
	s.Pause(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("handshake after unpause: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handshake still stuck after unpause")
	}
}

func TestDropAll(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c1, c2 := dial(t, s, key), dial(t, s, key)
	waitFor(t, "two active conns", func() bool { return s.Stats().ActiveConns == 2 })
	s.DropAll()
	for _, c := range []*ssh.Client{c1, c2} {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("client still connected after DropAll")
		}
	}
	waitFor(t, "no active conns", func() bool { return s.Stats().ActiveConns == 0 })
	dial(t, s, key) // still accepting
}

func TestDropAllWhilePaused(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	s.Pause(true)
	s.DropAll()
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("client still connected after DropAll during a pause")
	}
	s.Pause(false)
}

func TestRefuseChannels(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	echo := sshdtest.EchoServer(t)
	c := dial(t, s, key)
	s.RefuseChannels(true)
	_, err := c.Dial("tcp", echo)
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
		t.Fatalf("dial with channels refused: %v, want OpenChannelError Prohibited", err)
	}
	if len(s.Opened()) != 0 {
		t.Fatalf("Opened() = %v after a refusal", s.Opened())
	}
	s.RefuseChannels(false)
	conn, err := c.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "allowed again")
	conn.Close()
}

func TestKillRevive(t *testing.T) {
	key := newSigner(t)
	s, err := New(Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	waitFor(t, "address", func() bool { return s.Addr() == addr })
	c := dial(t, s, key)

	s.Kill()
	select {
	case err := <-served:
		if !errors.Is(err, ErrKilled) {
			t.Fatalf("Serve after Kill = %v, want ErrKilled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Kill")
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("client survived Kill")
	}
	if cc, err := net.Dial("tcp", addr); err == nil {
		cc.Close()
		t.Fatal("killed server still accepts TCP")
	}

	if err := s.Revive(); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Fatalf("revived on %s, want %s", s.Addr(), addr)
	}
	c2 := dial(t, s, key)
	ok, _, err := c2.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil || ok {
		t.Fatalf("keepalive after revive: %v %v", ok, err)
	}
	if err := s.Revive(); err == nil {
		t.Fatal("Revive of a live server succeeded")
	}
	c2.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSessionTrivialExec(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	c := dial(t, s, key)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("uptime")
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if string(out) != "kuguri sshserver: no shell here\r\n" {
		t.Fatalf("output %q", out)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	key := newSigner(t)
	s, err := New(Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	waitFor(t, "address", func() bool { return s.Addr() != "" })
	echo, stopEcho := echoListener(t)
	defer stopEcho()
	c, err := ssh.Dial("tcp", s.Addr(), clientConfig(s, ssh.PublicKeys(key)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := c.Dial("tcp", echo) // an open forwarded stream
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err != nil { // a bound remote listener
		t.Fatal(err)
	}
	stalled, err := net.Dial("tcp", s.Addr()) // a connection stuck before its handshake
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	s.Pause(true) // and a pause in force
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	if err := s.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
	c.Wait()
}

// echoListener is a local echo service whose goroutines end when stop is
// called (sshdtest.EchoServer stops only at cleanup, after leak checks).
func echoListener(t *testing.T) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	return ln.Addr().String(), func() { ln.Close(); <-done }
}

func TestFaultSwitchesUnderTraffic(t *testing.T) {
	key := newSigner(t)
	s := start(t, Config{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()}})
	echo := sshdtest.EchoServer(t)
	c := dial(t, s, key)
	stop := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				s.Pause(false)
				s.RefuseChannels(false)
				return
			default:
			}
			s.RefuseChannels(i%2 == 0)
			s.Pause(i%3 == 0)
			time.Sleep(time.Millisecond) // vary the interleaving
		}
	}()
	okStreams := 0
	for i := 0; i < 30; i++ {
		conn, err := c.Dial("tcp", echo)
		if err != nil {
			var oce *ssh.OpenChannelError
			if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
				t.Fatalf("unexpected error: %v", err)
			}
			continue
		}
		roundTrip(t, conn, "x")
		conn.Close()
		okStreams++
	}
	close(stop)
	<-flipped
	conn, err := c.Dial("tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, conn, "settled")
	conn.Close()
	t.Logf("%d of 30 streams passed while switches flipped", okStreams)
}
