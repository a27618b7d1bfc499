package sshserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Close.
var ErrServerClosed = errors.New("sshserver: server closed")

// ErrKilled is returned by Serve when Kill took its listener away. Revive
// serves the address again from a goroutine of the server's own.
var ErrKilled = errors.New("sshserver: server killed")

// Config configures a Server.
type Config struct {
	// HostKey is the server's host key. Nil generates a fresh ed25519 key
	// (see Server.HostKey).
	HostKey ssh.Signer
	// AuthorizedKeys may log in, under any user name.
	AuthorizedKeys []ssh.PublicKey
	// Password, when not empty, is also accepted (any user name). It is
	// never logged.
	Password string
	// OneTimeCode, when set, enables keyboard-interactive login with one
	// question ("One-time code: ") whose right answer is what it returns at
	// that moment, as a TOTP second factor would (tests of what a reconnect
	// cannot replay).
	OneTimeCode func() string
	// Logger receives connection and channel events. Nil discards them.
	Logger *slog.Logger
	// Dial reaches direct-tcpip targets. Nil uses a net.Dialer. A demo maps
	// private addresses ("10.0.0.5:3389") to loopback services here.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Banner, when not empty, is sent to clients before authentication.
	Banner string
	// ServerVersion is the SSH identification string; empty uses
	// "SSH-2.0-kuguri-sshserver".
	ServerVersion string
}

// Stats counts what the server has seen since New.
type Stats struct {
	Conns            int // SSH connections that completed login
	ActiveConns      int // of those, still open
	FailedHandshakes int // connections that failed before login completed
	Channels         int // channels accepted (any type)
	RefusedChannels  int // channel opens rejected (fault switch, bad target, unknown type)
	Forwards         int // tcpip-forward listeners currently bound
	Keepalives       int // keepalive@openssh.com requests answered
}

// Server is an SSH server. Its methods are safe for concurrent use; the
// fault switches may be flipped at any time.
type Server struct {
	// Set at construction.
	cfg    Config
	sshCfg *ssh.ServerConfig
	log    *slog.Logger
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	gate   gate
	refuse atomic.Bool

	wg sync.WaitGroup // every goroutine the server starts, and Serve calls

	mu        sync.Mutex
	closed    bool                      // guarded by mu
	listeners map[net.Listener]struct{} // guarded by mu
	addr      string                    // guarded by mu; last listener's address
	killed    []string                  // guarded by mu; addresses Kill closed, for Revive
	conns     map[*gatedConn]struct{}   // guarded by mu
	stats     Stats                     // guarded by mu
	opened    []string                  // guarded by mu
}

// New checks cfg and returns a server ready to Serve.
func New(cfg Config) (*Server, error) {
	if len(cfg.AuthorizedKeys) == 0 && cfg.Password == "" && cfg.OneTimeCode == nil {
		return nil, errors.New("sshserver: no authorized keys and no password: nobody could log in")
	}
	if cfg.HostKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("sshserver: host key: %w", err)
		}
		if cfg.HostKey, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, fmt.Errorf("sshserver: host key: %w", err)
		}
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		dial:      cfg.Dial,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*gatedConn]struct{}{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.dial == nil {
		var d net.Dialer
		s.dial = d.DialContext
	}
	authorized := make([][]byte, 0, len(cfg.AuthorizedKeys))
	for _, k := range cfg.AuthorizedKeys {
		authorized = append(authorized, k.Marshal())
	}
	sc := &ssh.ServerConfig{
		ServerVersion: cfg.ServerVersion,
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			m := key.Marshal()
			for _, a := range authorized {
				if bytes.Equal(a, m) {
					return &ssh.Permissions{Extensions: map[string]string{"key": ssh.FingerprintSHA256(key)}}, nil
				}
			}
			return nil, fmt.Errorf("sshserver: key %s not authorized for %q", ssh.FingerprintSHA256(key), meta.User())
		},
	}
	if sc.ServerVersion == "" {
		sc.ServerVersion = "SSH-2.0-kuguri-sshserver"
	}
	if cfg.Password != "" {
		want := []byte(cfg.Password)
		sc.PasswordCallback = func(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if subtle.ConstantTimeCompare(pw, want) == 1 {
				return &ssh.Permissions{Extensions: map[string]string{"password": "yes"}}, nil
			}
			return nil, fmt.Errorf("sshserver: wrong password for %q", meta.User())
		}
	}
	if cfg.OneTimeCode != nil {
		code := cfg.OneTimeCode
		sc.KeyboardInteractiveCallback = func(meta ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := ask(meta.User(), "", []string{"One-time code: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			if len(answers) == 1 && subtle.ConstantTimeCompare([]byte(answers[0]), []byte(code())) == 1 {
				return &ssh.Permissions{Extensions: map[string]string{"keyboard-interactive": "yes"}}, nil
			}
			return nil, fmt.Errorf("sshserver: wrong one-time code for %q", meta.User())
		}
	}
	if cfg.Banner != "" {
		sc.BannerCallback = func(ssh.ConnMetadata) string { return cfg.Banner }
	}
	sc.AddHostKey(cfg.HostKey)
	s.sshCfg = sc
	return s, nil
}

// HostKey is the public half of the server's host key.
func (s *Server) HostKey() ssh.PublicKey { return s.cfg.HostKey.PublicKey() }

// Addr is the address of the most recent listener ("127.0.0.1:PORT"), or ""
// before Serve.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ListenAndServe listens on addr (TCP) and serves it; see Serve.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sshserver: listen %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close (returns ErrServerClosed) or
// Kill (returns ErrKilled). It closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.track(ln); err != nil {
		ln.Close()
		return err
	}
	return s.serve(ln)
}

// track registers ln and counts its serve loop in wg.
func (s *Server) track(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.addr = ln.Addr().String()
	s.wg.Add(1)
	return nil
}

func (s *Server) serve(ln net.Listener) error {
	defer s.wg.Done()
	defer ln.Close()
	s.log.Info("sshserver listening", "addr", ln.Addr().String())
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			_, live := s.listeners[ln]
			closed := s.closed
			if !live || closed {
				delete(s.listeners, ln)
			}
			s.mu.Unlock()
			switch {
			case closed:
				return ErrServerClosed
			case !live:
				return ErrKilled
			}
			if errors.Is(err, net.ErrClosed) {
				// Closed by its owner, not by Close or Kill.
				s.mu.Lock()
				delete(s.listeners, ln)
				s.mu.Unlock()
				return fmt.Errorf("sshserver: accept on %s: %w", ln.Addr(), err)
			}
			// Transient (EMFILE and the like): back off and retry.
			s.log.Warn("sshserver accept", "addr", ln.Addr().String(), "err", err)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		gc := newGatedConn(c, &s.gate)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		s.conns[gc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handleConn(gc)
	}
}

// Close stops every listener and connection and waits for all of the
// server's goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.gate.set(false)
	s.wg.Wait()
	return nil
}

// Pause, while on, makes the server a silent black hole: nothing is read or
// written on any connection (new ones included), so requests and keepalives
// get no answer, yet no socket is closed. Pause(false) resumes, delivering
// what was held.
func (s *Server) Pause(on bool) {
	s.gate.set(on)
	s.log.Info("sshserver pause", "on", on)
}

// Paused reports whether Pause is on.
func (s *Server) Paused() bool { return s.gate.isPaused() }

// DropAll closes every live connection abruptly (TCP reset); the listener
// keeps accepting.
func (s *Server) DropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.abort()
	}
	s.log.Info("sshserver dropped all connections", "count", len(s.conns))
}

// RefuseChannels, while on, rejects every channel open with ssh.Prohibited.
func (s *Server) RefuseChannels(on bool) {
	s.refuse.Store(on)
	s.log.Info("sshserver refuse channels", "on", on)
}

// Kill takes the server down as a crash would: its listeners and all
// connections are closed; Serve returns ErrKilled. Revive brings it back.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		s.killed = append(s.killed, ln.Addr().String())
		delete(s.listeners, ln)
		ln.Close()
	}
	for c := range s.conns {
		c.abort()
	}
	s.log.Info("sshserver killed", "addrs", s.killed)
}

// Revive listens again on the addresses Kill closed and serves them from
// the server's own goroutines (until Close or the next Kill). It retries
// for a few seconds while an address is still busy.
func (s *Server) Revive() error {
	s.mu.Lock()
	addrs := s.killed
	s.killed = nil
	s.mu.Unlock()
	if len(addrs) == 0 {
		return errors.New("sshserver: revive: nothing was killed")
	}
	for i, addr := range addrs {
		ln, err := listenRetry(addr, 5*time.Second)
		if err == nil {
			err = s.track(ln)
			if err != nil {
				ln.Close()
			}
		}
		if err != nil {
			s.mu.Lock()
			s.killed = append(s.killed, addrs[i:]...)
			s.mu.Unlock()
			return fmt.Errorf("sshserver: revive %s: %w", addr, err)
		}
		go func() { _ = s.serve(ln) }()
	}
	return nil
}

func listenRetry(addr string, patience time.Duration) (net.Listener, error) {
	deadline := time.Now().Add(patience)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond) // poll while the port frees up
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Opened lists the direct-tcpip targets ("host:port", as the client asked)
// that were dialed successfully, in order.
func (s *Server) Opened() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.opened...)
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// go runs f as a goroutine counted in wg. Callers run inside another
// counted goroutine, so the count is above zero and Close cannot have
// finished waiting.
func (s *Server) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Server) handleConn(gc *gatedConn) {
	defer s.wg.Done()
	defer func() {
		gc.Close()
		s.mu.Lock()
		delete(s.conns, gc)
		s.mu.Unlock()
	}()
	remote := gc.RemoteAddr().String()
	sconn, chans, reqs, err := ssh.NewServerConn(gc, s.sshCfg)
	if err != nil {
		s.count(func(st *Stats) { st.FailedHandshakes++ })
		s.log.Info("sshserver handshake failed", "remote", remote, "err", err)
		return
	}
	s.count(func(st *Stats) { st.Conns++; st.ActiveConns++ })
	defer s.count(func(st *Stats) { st.ActiveConns-- })
	log := s.log.With("remote", remote, "user", sconn.User())
	log.Info("sshserver login", "key", sconn.Permissions.Extensions["key"])

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &conn{s: s, sconn: sconn, log: log, ctx: ctx, forwards: map[string]net.Listener{}}
	s.goTracked(func() { c.globalRequests(reqs) })
	for nc := range chans {
		if s.refuse.Load() {
			s.count(func(st *Stats) { st.RefusedChannels++ })
			log.Info("sshserver refused channel (fault switch)", "type", nc.ChannelType())
			_ = nc.Reject(ssh.Prohibited, "channel opens refused by fault switch")
			continue
		}
		switch nc.ChannelType() {
		case "direct-tcpip":
			s.goTracked(func() { c.directTCPIP(nc) })
		case "session":
			s.goTracked(func() { c.session(nc) })
		default:
			s.count(func(st *Stats) { st.RefusedChannels++ })
			_ = nc.Reject(ssh.UnknownChannelType, "unknown channel type "+strconv.Quote(nc.ChannelType()))
		}
	}
	log.Info("sshserver connection closed")
	cancel()
	c.closeForwards()
}

// conn is the state of one logged-in connection.
type conn struct {
	s     *Server
	sconn *ssh.ServerConn
	log   *slog.Logger
	ctx   context.Context // cancelled when the connection ends

	mu       sync.Mutex
	closed   bool                    // guarded by mu
	forwards map[string]net.Listener // guarded by mu; key: requested "host:port" (actual port)
}

// RFC 4254 7.2 direct-tcpip and 7.1 forwarded-tcpip payloads.
type tcpipPayload struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

func (c *conn) directTCPIP(nc ssh.NewChannel) {
	var p tcpipPayload
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		c.s.count(func(st *Stats) { st.RefusedChannels++ })
		_ = nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip payload")
		return
	}
	target := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	dctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
	tc, err := c.s.dial(dctx, "tcp", target)
	cancel()
	if err != nil {
		c.s.count(func(st *Stats) { st.RefusedChannels++ })
		c.log.Info("sshserver direct-tcpip dial failed", "target", target, "err", err)
		_ = nc.Reject(ssh.ConnectionFailed, fmt.Sprintf("connect to %s failed: %v", target, err))
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		tc.Close()
		return
	}
	c.s.mu.Lock()
	c.s.stats.Channels++
	c.s.opened = append(c.s.opened, target)
	c.s.mu.Unlock()
	c.log.Info("sshserver direct-tcpip", "target", target, "from", net.JoinHostPort(p.OrigHost, strconv.Itoa(int(p.OrigPort))))
	c.s.goTracked(func() { ssh.DiscardRequests(reqs) })
	pipe(c.ctx, ch, tc)
}

// pipe copies both ways between ch and tc with half-closes, and closes both
// when done or when ctx ends.
func pipe(ctx context.Context, ch ssh.Channel, tc net.Conn) {
	closeBoth := func() {
		ch.Close()
		tc.Close()
	}
	stop := context.AfterFunc(ctx, closeBoth)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := io.Copy(tc, ch); err != nil {
			closeBoth()
			return
		}
		if cw, ok := tc.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			tc.Close()
		}
	}()
	if _, err := io.Copy(ch, tc); err != nil {
		closeBoth()
	} else {
		_ = ch.CloseWrite()
	}
	wg.Wait()
	closeBoth()
}

func (c *conn) globalRequests(reqs <-chan *ssh.Request) {
	for r := range reqs {
		switch r.Type {
		case "tcpip-forward":
			ok, payload := c.tcpipForward(r.Payload)
			if r.WantReply {
				_ = r.Reply(ok, payload)
			}
		case "cancel-tcpip-forward":
			ok := c.cancelForward(r.Payload)
			if r.WantReply {
				_ = r.Reply(ok, nil)
			}
		case "keepalive@openssh.com":
			c.s.count(func(st *Stats) { st.Keepalives++ })
			if r.WantReply {
				_ = r.Reply(false, nil) // as OpenSSH does
			}
		default:
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
}

type forwardRequest struct {
	Host string
	Port uint32
}

// loopbackHost maps a requested bind address to a loopback one: this
// server never listens beyond loopback.
func loopbackHost(h string) string {
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return h
	}
	if h == "::" || h == "::1" {
		return "::1"
	}
	return "127.0.0.1"
}

func (c *conn) tcpipForward(payload []byte) (bool, []byte) {
	var req forwardRequest
	if err := ssh.Unmarshal(payload, &req); err != nil || req.Port > 65535 {
		return false, nil
	}
	bind := net.JoinHostPort(loopbackHost(req.Host), strconv.Itoa(int(req.Port)))
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		c.log.Info("sshserver tcpip-forward refused", "bind", bind, "err", err)
		return false, nil
	}
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	key := net.JoinHostPort(req.Host, strconv.Itoa(int(port)))
	c.mu.Lock()
	if c.closed || c.forwards[key] != nil {
		c.mu.Unlock()
		ln.Close()
		return false, nil
	}
	c.forwards[key] = ln
	c.mu.Unlock()
	c.s.count(func(st *Stats) { st.Forwards++ })
	c.log.Info("sshserver tcpip-forward", "requested", net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port))), "bound", ln.Addr().String())
	c.s.goTracked(func() { c.acceptForward(ln, req.Host, port) })
	if req.Port == 0 {
		return true, ssh.Marshal(struct{ Port uint32 }{port})
	}
	return true, nil
}

func (c *conn) cancelForward(payload []byte) bool {
	var req forwardRequest
	if err := ssh.Unmarshal(payload, &req); err != nil {
		return false
	}
	key := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
	c.mu.Lock()
	ln := c.forwards[key]
	delete(c.forwards, key)
	c.mu.Unlock()
	if ln == nil {
		return false
	}
	ln.Close()
	return true
}

func (c *conn) closeForwards() {
	c.mu.Lock()
	c.closed = true
	fw := c.forwards
	c.forwards = map[string]net.Listener{}
	c.mu.Unlock()
	for _, ln := range fw {
		ln.Close()
	}
}

func (c *conn) acceptForward(ln net.Listener, host string, port uint32) {
	defer c.s.count(func(st *Stats) { st.Forwards-- })
	defer ln.Close()
	for {
		tc, err := ln.Accept()
		if err != nil {
			return
		}
		c.s.goTracked(func() { c.forwardOne(tc, host, port) })
	}
}

func (c *conn) forwardOne(tc net.Conn, host string, port uint32) {
	ra, _ := tc.RemoteAddr().(*net.TCPAddr)
	p := tcpipPayload{Host: host, Port: port}
	if ra != nil {
		p.OrigHost, p.OrigPort = ra.IP.String(), uint32(ra.Port)
	}
	ch, reqs, err := c.sconn.OpenChannel("forwarded-tcpip", ssh.Marshal(&p))
	if err != nil {
		c.log.Info("sshserver forwarded-tcpip refused by client", "port", port, "err", err)
		tc.Close()
		return
	}
	c.s.count(func(st *Stats) { st.Channels++ })
	c.s.goTracked(func() { ssh.DiscardRequests(reqs) })
	pipe(c.ctx, ch, tc)
}

// session answers a session channel trivially: exec and shell print one
// line and exit 0; pty-req and env are accepted; anything else is refused.
func (c *conn) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	c.s.count(func(st *Stats) { st.Channels++ })
	stop := context.AfterFunc(c.ctx, func() { ch.Close() })
	defer stop()
	defer ch.Close()
	for r := range reqs {
		switch r.Type {
		case "exec", "shell":
			_ = r.Reply(true, nil)
			_, _ = io.WriteString(ch, "kuguri sshserver: no shell here\r\n")
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			_ = ch.Close() // ends reqs
		case "pty-req", "env", "window-change":
			if r.WantReply {
				_ = r.Reply(true, nil)
			}
		default:
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
}
