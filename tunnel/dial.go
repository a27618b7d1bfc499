package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/hostkeys"
	"github.com/kuguri/kuguri/internal/sshauth"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// HopError is a failure to reach or log in to one hop of a chain. It wraps
// exactly one of api.ErrHostKey, api.ErrAuth and api.ErrNetwork (Kind) plus
// the underlying error.
type HopError struct {
	Hop  int    // 1-based position in the chain
	Name string // the hop as written in the profile
	Addr string // host:port dialled
	Kind error  // api.ErrHostKey, api.ErrAuth or api.ErrNetwork
	Err  error
}

func (e *HopError) Error() string {
	if e.Name == "" || e.Name == e.Addr || strings.HasPrefix(e.Addr, e.Name+":") {
		return fmt.Sprintf("hop %d (%s): %v", e.Hop, e.Addr, e.Err)
	}
	return fmt.Sprintf("hop %d (%s %s): %v", e.Hop, e.Name, e.Addr, e.Err)
}

func (e *HopError) Unwrap() []error {
	if errors.Is(e.Err, e.Kind) {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// hopSetup builds what one hop's handshake needs. The default uses
// internal/hostkeys and internal/sshauth; tests replace it.
type hopSetup interface {
	// p is the Prompter to use: the dialer wraps the run's Prompter so that
	// time spent waiting for a person does not count against the timeout.
	hostKey(ctx context.Context, hop int, h profile.Hop, p api.Prompter) (cb ssh.HostKeyCallback, algos []string, err error)
	auth(ctx context.Context, hop int, h profile.Hop, p api.Prompter) (hopAuth, error)
}

// hopAuth is one hop's authentication for one handshake.
type hopAuth struct {
	methods []ssh.AuthMethod
	close   func() // nil: nothing to release
	// failure explains a failed handshake (see sshauth.Auth.Failure); nil
	// means sshauth.AsAuthError.
	failure func(hop string, err error) error
	// succeeded is called after the login; it returns a note for what a
	// reconnect cannot replay ("" when none). nil: nothing to say.
	succeeded func() string
}

// authShared is what every profile of a Manager (or one Check / Trust call)
// shares for authentication: one sshauth.Cache, so each passphrase is asked
// once per run.
type authShared struct {
	prompter api.Prompter
	logger   *slog.Logger
	getenv   func(string) string

	cacheOnce sync.Once
	cache     *sshauth.Cache
}

// sshSetup is the production hopSetup for one profile.
type sshSetup struct {
	shared  *authShared
	profile string
}

func (s sshSetup) hostKey(ctx context.Context, hop int, h profile.Hop, p api.Prompter) (ssh.HostKeyCallback, []string, error) {
	c, err := hostkeys.New(hostkeys.Config{
		Profile:      s.profile,
		Hop:          hop,
		HopName:      h.Name,
		Files:        h.KnownHostsFiles,
		HostKeyAlias: h.HostKeyAlias,
		Strict:       h.StrictHostKeyChecking,
		Hash:         h.HashKnownHosts,
		Prompter:     p,
	})
	if err != nil {
		return nil, nil, err
	}
	return c.CallbackContext(ctx), c.HostKeyAlgorithms(h.Addr()), nil
}

func (s sshSetup) auth(ctx context.Context, hop int, h profile.Hop, p api.Prompter) (hopAuth, error) {
	s.shared.cacheOnce.Do(func() { s.shared.cache = sshauth.NewCache() })
	au := sshauth.Prepare(ctx, sshauth.Config{
		Profile:  s.profile,
		Hop:      h,
		Prompter: p,
		Cache:    s.shared.cache,
		Logger:   s.shared.logger,
		Getenv:   s.shared.getenv,
	})
	return hopAuth{methods: au.Methods(), close: au.Close, failure: au.Failure, succeeded: au.Succeeded}, nil
}

// chain is a dialled jump chain: clients[0] is hop 1, the last is the
// target. Close closes them in reverse.
type chain struct {
	clients []*ssh.Client
	// notes say what a reconnect cannot replay (answers typed for a
	// keyboard-interactive login), one per hop that needs it.
	notes []string
}

func (c *chain) last() *ssh.Client { return c.clients[len(c.clients)-1] }

func (c *chain) Close() error {
	var first error
	for i := len(c.clients) - 1; i >= 0; i-- {
		if err := c.clients[i].Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	return first
}

// hopTiming is one hop's phases, for Check.
type hopTiming struct {
	Connect   time.Duration // TCP (or ProxyCommand start, or channel through the previous hop)
	Handshake time.Duration // key exchange, host key and authentication
	note      string        // from hopAuth.succeeded
}

// dialer dials chains. Safe for concurrent use.
type dialer struct {
	version  string
	setup    hopSetup
	prompter api.Prompter
	logger   *slog.Logger
	// dialTCP dials hop 1 when it has no ProxyCommand; nil = net.Dialer with
	// keepalive and (Linux) TCP_USER_TIMEOUT.
	dialTCP func(ctx context.Context, addr string, s profile.Settings) (net.Conn, error)
	// resolver resolves hop 1's host name; nil = the system's.
	resolver *net.Resolver
}

func (d *dialer) clientVersion() string {
	v := d.version
	if v == "" {
		v = "dev"
	}
	v = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '-' {
			return '_'
		}
		return r
	}, v)
	return "SSH-2.0-kuguri_" + v
}

func hopTimeout(h profile.Hop, s profile.Settings) time.Duration {
	if h.ConnectTimeout > 0 {
		return h.ConnectTimeout
	}
	if s.ConnectTimeout > 0 {
		return s.ConnectTimeout
	}
	return 15 * time.Second
}

// dial dials every hop of r in turn. On error, the clients dialled so far
// are closed and the error is a *HopError. timings, when not nil, receives
// one entry per hop reached.
func (d *dialer) dial(ctx context.Context, r *profile.Resolved, timings *[]hopTiming) (*chain, error) {
	if len(r.Hops) == 0 {
		return nil, fmt.Errorf("profile %q has no hops: %w", r.Name, api.ErrConfig)
	}
	c := &chain{clients: make([]*ssh.Client, 0, len(r.Hops))}
	for i, h := range r.Hops {
		var prev *ssh.Client
		if i > 0 {
			prev = c.clients[i-1]
		}
		cl, t, err := d.dialHop(ctx, i+1, h, r.Settings, prev)
		if timings != nil {
			*timings = append(*timings, t)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		c.clients = append(c.clients, cl)
		if t.note != "" {
			c.notes = append(c.notes, t.note)
		}
	}
	return c, nil
}

func (d *dialer) dialHop(ctx context.Context, n int, h profile.Hop, s profile.Settings, prev *ssh.Client) (*ssh.Client, hopTiming, error) {
	var t hopTiming
	fail := func(kind, err error) (*ssh.Client, hopTiming, error) {
		return nil, t, &HopError{Hop: n, Name: h.Name, Addr: h.Addr(), Kind: kind, Err: err}
	}
	timeout := hopTimeout(h, s)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	guard := newHopGuard(timeout, cancel)
	defer guard.stop()
	prompter := guardedPrompter{p: d.prompter, g: guard}
	timedOut := func(err error) error {
		if ctx.Err() == nil && guard.expired() {
			return fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return err
	}

	start := time.Now()
	var conn net.Conn
	var err error
	switch {
	case prev != nil:
		conn, err = prev.DialContext(hctx, "tcp", h.Addr())
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			err = fmt.Errorf("previous hop refused to connect: %w", err)
		}
	case h.ProxyCommand != "":
		conn, err = proxyCommandConn(hctx, h.ProxyCommand, h.Addr())
	case d.dialTCP != nil:
		conn, err = d.dialTCP(hctx, h.Addr(), s)
	default:
		conn, err = dialTCP(hctx, h.Addr(), s, timeout, d.resolver)
	}
	t.Connect = time.Since(start)
	if err != nil {
		return fail(api.ErrNetwork, timedOut(err))
	}

	cb, algos, err := d.setup.hostKey(hctx, n, h, prompter)
	if err != nil {
		conn.Close()
		return fail(api.ErrHostKey, err)
	}
	ha, err := d.setup.auth(hctx, n, h, prompter)
	if err != nil {
		conn.Close()
		return fail(api.ErrAuth, err)
	}
	if ha.close != nil {
		defer ha.close()
	}
	cfg := &ssh.ClientConfig{
		User:              h.User,
		Auth:              ha.methods,
		HostKeyCallback:   cb,
		HostKeyAlgorithms: algos,
		ClientVersion:     d.clientVersion(),
		Timeout:           timeout,
	}
	// x/crypto's Timeout covers only TCP: bound the handshake by closing the
	// connection when hctx ends.
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	hs := time.Now()
	tc := conn
	if prev == nil {
		// Hop 1's socket, read and written with raw system calls where
		// that exists (rawio_linux.go). The transport of the x/crypto
		// kuguri carries reads it through a 128 KiB buffer, several full
		// packets per read, and decrypts them straight out of it.
		tc = rawSocketConn(conn)
	}
	sc, chans, reqs, err := ssh.NewClientConn(tc, h.Addr(), cfg)
	t.Handshake = time.Since(hs)
	if !stop() && err == nil {
		// The context ended right as the handshake finished: the conn is closed.
		sc.Close()
		err = hctx.Err()
	}
	if err != nil {
		conn.Close()
		if ha.failure != nil {
			err = ha.failure("", err)
		} else {
			err = sshauth.AsAuthError("", err)
		}
		return fail(classifyHandshake(err), timedOut(err))
	}
	if ha.succeeded != nil {
		t.note = ha.succeeded()
	}
	return ssh.NewClient(sc, chans, reqs), t, nil
}

// classifyHandshake says which class a handshake error belongs to.
func classifyHandshake(err error) error {
	switch {
	case errors.Is(err, api.ErrHostKey):
		return api.ErrHostKey
	case errors.Is(err, api.ErrAuth), errors.Is(err, api.ErrNoPrompter):
		return api.ErrAuth
	}
	return api.ErrNetwork
}

// hopGuard bounds one hop's connection and handshake by its timeout, paused
// while a person is being asked something.
type hopGuard struct {
	mu      sync.Mutex
	timer   *time.Timer
	timeout time.Duration
	asking  int  // guarded by mu
	fired   bool // guarded by mu
}

func newHopGuard(timeout time.Duration, cancel func()) *hopGuard {
	g := &hopGuard{timeout: timeout}
	g.timer = time.AfterFunc(timeout, func() {
		g.mu.Lock()
		if g.asking > 0 {
			g.mu.Unlock()
			return
		}
		g.fired = true
		g.mu.Unlock()
		cancel()
	})
	return g
}

func (g *hopGuard) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asking++
	g.timer.Stop()
}

// resume restarts the full timeout once nobody is being asked.
func (g *hopGuard) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asking--
	if g.asking == 0 && !g.fired {
		g.timer.Reset(g.timeout)
	}
}

func (g *hopGuard) stop() { g.timer.Stop() }

func (g *hopGuard) expired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fired
}

// guardedPrompter pauses a hop's timeout while the Prompter waits for a
// person.
type guardedPrompter struct {
	p api.Prompter
	g *hopGuard
}

var _ api.Prompter = guardedPrompter{}

func (gp guardedPrompter) HostKey(ctx context.Context, q api.HostKeyQuestion) (api.HostKeyDecision, error) {
	gp.g.pause()
	defer gp.g.resume()
	return gp.p.HostKey(ctx, q)
}

func (gp guardedPrompter) Passphrase(ctx context.Context, q api.PassphraseQuestion) ([]byte, error) {
	gp.g.pause()
	defer gp.g.resume()
	return gp.p.Passphrase(ctx, q)
}

func (gp guardedPrompter) KeyboardInteractive(ctx context.Context, q api.KeyboardInteractiveQuestion) ([]string, error) {
	gp.g.pause()
	defer gp.g.resume()
	return gp.p.KeyboardInteractive(ctx, q)
}
