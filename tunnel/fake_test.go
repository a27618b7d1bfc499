package tunnel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// fakeServer is a small in-process SSH server with fault switches, for fast
// engine tests (internal/sshserver was not there yet when these were
// written).
type fakeServer struct {
	t       testing.TB
	hostKey ssh.Signer
	cfg     *ssh.ServerConfig
	addr    string

	accepted  atomic.Int64 // TCP connections accepted
	authFails atomic.Int64
	keepalive atomic.Int64 // keepalive requests seen

	mu      sync.Mutex
	ln      net.Listener
	conns   map[*pausableConn]struct{}
	paused  bool
	refuse  bool
	targets []string
	wg      sync.WaitGroup
	pauseCh chan struct{} // closed when unpaused
}

func newSigner(t testing.TB) ssh.Signer {
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

func startFake(t testing.TB, clientKey ssh.PublicKey) *fakeServer {
	t.Helper()
	s := &fakeServer{t: t, hostKey: newSigner(t), conns: map[*pausableConn]struct{}{}, pauseCh: make(chan struct{})}
	close(s.pauseCh)
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if clientKey != nil && string(k.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			s.authFails.Add(1)
			return nil, errors.New("unknown key")
		},
	}
	s.cfg.AddHostKey(s.hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

func (s *fakeServer) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			pc := &pausableConn{Conn: c, s: s}
			s.mu.Lock()
			s.conns[pc] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(pc)
				s.mu.Lock()
				delete(s.conns, pc)
				s.mu.Unlock()
			}()
		}
	}()
}

func (s *fakeServer) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Pause makes the server a silent black hole (true) or normal again.
func (s *fakeServer) Pause(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on && !s.paused {
		s.pauseCh = make(chan struct{})
	}
	if !on && s.paused {
		close(s.pauseCh)
	}
	s.paused = on
}

func (s *fakeServer) RefuseChannels(on bool) {
	s.mu.Lock()
	s.refuse = on
	s.mu.Unlock()
}

// DropAll closes every connection; the listener stays.
func (s *fakeServer) DropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Conn.Close()
	}
}

// Kill closes the listener and every connection.
func (s *fakeServer) Kill() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	s.mu.Unlock()
	s.DropAll()
}

// Revive listens again on the same address.
func (s *fakeServer) Revive() {
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("revive: %v", err)
	}
	s.serve(ln)
}

func (s *fakeServer) Close() {
	s.Pause(false)
	s.Kill()
	s.wg.Wait()
}

func (s *fakeServer) seenTargets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.targets)
}

type pausableConn struct {
	net.Conn
	s *fakeServer
}

func (c *pausableConn) wait() {
	c.s.mu.Lock()
	ch := c.s.pauseCh
	c.s.mu.Unlock()
	<-ch
}

func (c *pausableConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.wait() // data that arrives while paused is swallowed until unpause
	return n, err
}

func (c *pausableConn) Write(p []byte) (int, error) {
	c.wait()
	return c.Conn.Write(p)
}

func (s *fakeServer) handle(c net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	go func() {
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" {
				s.keepalive.Add(1)
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		var msg struct {
			RAddr string
			RPort uint32
			LAddr string
			LPort uint32
		}
		if err := ssh.Unmarshal(nc.ExtraData(), &msg); err != nil {
			nc.Reject(ssh.ConnectionFailed, "bad payload")
			continue
		}
		target := net.JoinHostPort(msg.RAddr, strconv.Itoa(int(msg.RPort)))
		s.mu.Lock()
		refuse := s.refuse
		s.targets = append(s.targets, target)
		s.mu.Unlock()
		if refuse {
			nc.Reject(ssh.Prohibited, "administratively prohibited")
			continue
		}
		tc, err := net.Dial("tcp", target)
		if err != nil {
			nc.Reject(ssh.ConnectionFailed, "Connection refused")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			tc.Close()
			continue
		}
		go ssh.DiscardRequests(creqs)
		wg.Add(2)
		go func() {
			defer wg.Done()
			io.Copy(ch, tc)
			ch.CloseWrite()
		}()
		go func() {
			defer wg.Done()
			io.Copy(tc, ch)
			tc.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			sc.Wait()
			tc.Close()
		}()
	}
}

// fakeSetup is a hopSetup that pins each hop's host key and logs in with
// one key.
type fakeSetup struct {
	keys   map[string]ssh.PublicKey // addr -> host key
	signer ssh.Signer
}

func (f *fakeSetup) hostKey(ctx context.Context, hop int, h profile.Hop, _ api.Prompter) (ssh.HostKeyCallback, []string, error) {
	want := f.keys[h.Addr()]
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if want == nil || string(want.Marshal()) != string(key.Marshal()) {
			return fmt.Errorf("host key for %s has CHANGED: %w", h.Addr(), api.ErrHostKey)
		}
		return nil
	}, nil, nil
}

func (f *fakeSetup) auth(_ context.Context, hop int, h profile.Hop, _ api.Prompter) (hopAuth, error) {
	return hopAuth{methods: []ssh.AuthMethod{ssh.PublicKeys(f.signer)}}, nil
}

func testSettings() profile.Settings {
	return profile.Settings{
		KeepaliveInterval: 200 * time.Millisecond,
		KeepaliveCountMax: 3,
		ConnectTimeout:    3 * time.Second,
		Reconnect:         profile.Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond},
	}
}

func hopFor(name, addr string) profile.Hop {
	host, port, _ := splitHostPort(addr)
	return profile.Hop{Name: name, HostName: host, Port: port, User: "test"}
}

// testEnv wires a Manager to fake servers with resolved profiles.
type testEnv struct {
	t        *testing.T
	signer   ssh.Signer
	setup    *fakeSetup
	profiles map[string]*profile.Resolved
	opts     Options
}

func newEnv(t *testing.T) *testEnv {
	s := newSigner(t)
	e := &testEnv{t: t, signer: s, setup: &fakeSetup{keys: map[string]ssh.PublicKey{}, signer: s}, profiles: map[string]*profile.Resolved{}}
	e.opts = Options{
		Version: "test",
		setup:   func(string) hopSetup { return e.setup },
		resolve: func(cfg *profile.Config, name string) (*profile.Resolved, error) {
			r, ok := e.profiles[name]
			if !ok {
				return nil, fmt.Errorf("no profile %q: %w", name, api.ErrConfig)
			}
			return r, nil
		},
	}
	return e
}

func (e *testEnv) server() *fakeServer {
	s := startFake(e.t, e.signer.PublicKey())
	e.setup.keys[s.addr] = s.hostKey.PublicKey()
	return s
}

func (e *testEnv) add(r *profile.Resolved) {
	if r.Settings == (profile.Settings{}) {
		r.Settings = testSettings()
	}
	e.profiles[r.Name] = r
}

func (e *testEnv) config() *profile.Config {
	cfg := &profile.Config{Profiles: map[string]*profile.Profile{}}
	for n := range e.profiles {
		cfg.Profiles[n] = &profile.Profile{Name: n}
	}
	return cfg
}

// run starts a Manager serving in the background, stopped at cleanup.
func (e *testEnv) run() *Manager {
	m := NewManager(e.config(), e.opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	})
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func profState(m *Manager, name string) api.Profile {
	s, _ := m.Snapshot(context.Background())
	p, _ := s.Find(name)
	return p
}

// roundTrip sends msg through addr and expects it echoed.
func roundTrip(t testing.TB, addr, msg string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read through %s: %v", addr, err)
	}
	if string(got) != msg {
		t.Fatalf("echo through %s: got %q, want %q", addr, got, msg)
	}
}
