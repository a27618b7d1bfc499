package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/kuguri/kuguri/internal/hooks"
	"github.com/kuguri/kuguri/internal/netenv"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// Options are what the engine needs from its host program.
type Options struct {
	Logger   *slog.Logger        // nil = discard
	Prompter api.Prompter        // nil = api.Headless
	Version  string              // for the SSH client version string
	Getenv   func(string) string // nil = os.Getenv
	Clock    Clock               // nil = the real clock
	// Resolver resolves the first hop's host name; nil = the system's, or on
	// systems without /etc/resolv.conf (Termux) the servers of
	// $PREFIX/etc/resolv.conf, then the config's `resolver:` (NewManager
	// fills this in from the config; Check and Trust from the environment).
	Resolver *net.Resolver
	// HookTimeout bounds each on_up/on_down hook (0 = hooks.DefaultTimeout);
	// Run waits for running hooks at most this long after its profiles stop.
	HookTimeout time.Duration

	// Test hooks: replace host-key checks and authentication, and the TCP
	// dial of the first hop.
	setup   func(profileName string) hopSetup
	resolve func(cfg *profile.Config, name string) (*profile.Resolved, error)
	// noNetwatch turns off route and wake polling.
	noNetwatch bool
	dialTCP    func(ctx context.Context, addr string, s profile.Settings) (net.Conn, error)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Prompter == nil {
		o.Prompter = api.Headless{}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Resolver == nil {
		o.Resolver = netenv.Resolver(netenv.Env{Getenv: o.Getenv}, "")
	}
	return o
}

// dialerFor builds the dialer of one profile; shared carries the run's
// passphrase cache.
func (o Options) dialerFor(name string, shared *authShared) *dialer {
	d := &dialer{version: o.Version, logger: o.Logger, dialTCP: o.dialTCP, prompter: o.Prompter, resolver: o.Resolver}
	if o.setup != nil {
		d.setup = o.setup(name)
	} else {
		d.setup = sshSetup{shared: shared, profile: name}
	}
	return d
}

// Manager runs profiles. It is the in-process api.Backend.
type Manager struct {
	// set at construction
	opts    Options
	logger  *slog.Logger
	shared  *authShared
	hooks   *hooks.Runner // on_up / on_down; closed when Run returns
	changed chan struct{} // buffered 1: a snapshot is due

	mu       sync.Mutex
	cfg      *profile.Config          // guarded by mu
	entries  map[string]*entry        // guarded by mu
	names    []string                 // guarded by mu; sorted
	runCtx   context.Context          // guarded by mu; nil unless Run is serving
	subs     map[*subscriber]struct{} // guarded by mu
	closed   bool                     // guarded by mu; Run has returned
	profiles sync.WaitGroup           // supervisor goroutines
}

var _ api.Backend = (*Manager)(nil)

// entry is one configured profile.
type entry struct {
	name       string
	resolved   *profile.Resolved
	resolveErr error
	events     *eventRing
	wanted     bool
	sup        *supervisor // the running (or last) supervisor; nil when never started
	cancel     context.CancelFunc
}

type subscriber struct {
	ch chan api.Snapshot
}

// NewManager returns a manager for cfg's profiles, all stopped. Serve it
// with Run.
func NewManager(cfg *profile.Config, opts Options) *Manager {
	if opts.Resolver == nil && cfg != nil {
		opts.Resolver = netenv.Resolver(netenv.Env{Getenv: opts.Getenv}, cfg.Resolver)
	}
	opts = opts.withDefaults()
	m := &Manager{
		opts:    opts,
		logger:  opts.Logger,
		shared:  &authShared{prompter: opts.Prompter, logger: opts.Logger, getenv: opts.Getenv},
		hooks:   hooks.New(opts.Logger.With("component", "hooks"), opts.HookTimeout),
		changed: make(chan struct{}, 1),
		entries: map[string]*entry{},
		subs:    map[*subscriber]struct{}{},
	}
	m.load(cfg)
	return m
}

// load builds entries for cfg; m.mu must be held or m not yet shared.
func (m *Manager) load(cfg *profile.Config) {
	m.cfg = cfg
	m.names = m.names[:0]
	if cfg == nil {
		return
	}
	for name := range cfg.Profiles {
		m.names = append(m.names, name)
	}
	slices.Sort(m.names)
	for _, name := range m.names {
		res := m.opts.resolve
		if res == nil {
			res = resolve
		}
		r, err := res(cfg, name)
		e := m.entries[name]
		if e == nil {
			e = &entry{name: name, events: &eventRing{}}
			m.entries[name] = e
		}
		e.resolved, e.resolveErr = r, err
	}
}

func (m *Manager) notify() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// Run serves until ctx ends, then stops every profile, closes their
// listeners, waits for their goroutines and for running hooks (bounded by
// Options.HookTimeout) and returns nil. Profiles started before Run begin
// when it does.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil || m.closed {
		m.mu.Unlock()
		return errors.New("tunnel: Manager.Run called twice")
	}
	m.runCtx = ctx
	for _, name := range m.names {
		if e := m.entries[name]; e.wanted {
			m.spawnLocked(e)
		}
	}
	m.mu.Unlock()
	m.notify()

	refresh := time.NewTicker(time.Second)
	defer refresh.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-m.changed:
			m.broadcast()
		case <-refresh.C:
			// Counters move without state changes: refresh watchers while
			// anything runs.
			if m.anyRunning() {
				m.broadcast()
			}
		}
	}

	m.mu.Lock()
	for _, e := range m.entries {
		if e.cancel != nil {
			e.cancel()
		}
	}
	m.mu.Unlock()
	m.profiles.Wait()
	// The on_down hooks of the profiles just stopped have been fired: let
	// them run (bounded), then refuse more.
	m.hooks.Close()

	m.mu.Lock()
	m.runCtx = nil
	m.closed = true
	for s := range m.subs {
		close(s.ch)
		delete(m.subs, s)
	}
	m.mu.Unlock()
	return nil
}

func (m *Manager) anyRunning() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		if e.sup != nil && e.cancel != nil {
			return true
		}
	}
	return false
}

// spawnLocked starts e's supervisor; m.mu held and Run serving.
func (m *Manager) spawnLocked(e *entry) {
	if e.resolveErr != nil || e.resolved == nil {
		return
	}
	if e.sup != nil && e.cancel != nil {
		select {
		case <-e.sup.done:
		default:
			return // running
		}
	}
	r := e.resolved
	logger := m.logger.With("profile", r.Name)
	s := newSupervisor(r, m.opts.dialerFor(r.Name, m.shared), m.opts.Clock, logger, e.events, m.notify, hopNames(r), sshCommand(r))
	s.netwatch = !m.opts.noNetwatch
	s.hooks = m.hooks
	s.getenv = m.opts.Getenv
	ctx, cancel := context.WithCancel(m.runCtx)
	e.sup, e.cancel = s, cancel
	m.profiles.Add(1)
	go func() {
		defer m.profiles.Done()
		s.run(ctx)
		m.notify()
	}()
}

// hopNames are the hops' short display names for the snapshot (the TUI
// shows them as "bastion → vps"): each hop's Name, its address when it has
// none.
func hopNames(r *profile.Resolved) []string {
	out := make([]string, len(r.Hops))
	for i, h := range r.Hops {
		out[i] = h.Name
		if out[i] == "" {
			out[i] = h.Addr()
		}
	}
	return out
}

func resolve(cfg *profile.Config, name string) (*profile.Resolved, error) {
	return cfg.Resolve(name)
}

// sshCommand is the equivalent OpenSSH command line.
func sshCommand(r *profile.Resolved) string {
	return profile.ShellJoin(r.SSHCommand())
}

func (m *Manager) lookup(names []string) ([]*entry, error) {
	if len(names) == 0 {
		out := make([]*entry, 0, len(m.names))
		for _, n := range m.names {
			out = append(out, m.entries[n])
		}
		return out, nil
	}
	out := make([]*entry, 0, len(names))
	for _, n := range names {
		e, ok := m.entries[n]
		if !ok || !slices.Contains(m.names, n) {
			return nil, fmt.Errorf("no profile named %q: %w", n, api.ErrConfig)
		}
		out = append(out, e)
	}
	return out, nil
}

// Start starts the named profiles (all with no names). A running profile is
// left alone; a failed one starts again.
func (m *Manager) Start(ctx context.Context, names ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("tunnel: manager has stopped")
	}
	es, err := m.lookup(names)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range es {
		if e.resolveErr != nil {
			errs = append(errs, fmt.Errorf("profile %q: %w", e.name, withKind(e.resolveErr, api.ErrConfig)))
			continue
		}
		if err := checkRunnable(e.resolved); err != nil {
			errs = append(errs, err)
			continue
		}
		e.wanted = true
		if m.runCtx != nil {
			m.spawnLocked(e)
		}
	}
	m.notify()
	return errors.Join(errs...)
}

// withKind makes err wrap kind unless it already has a class.
func withKind(err, kind error) error {
	if api.KindOf(err) != api.KindInternal {
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// Stop stops the named profiles (all with no names), closing their
// listeners, and waits for them (bounded by ctx).
func (m *Manager) Stop(ctx context.Context, names ...string) error {
	m.mu.Lock()
	es, err := m.lookup(names)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	var waits []chan struct{}
	for _, e := range es {
		e.wanted = false
		if e.cancel != nil {
			e.cancel()
			e.cancel = nil
			waits = append(waits, e.sup.done)
		}
	}
	m.mu.Unlock()
	m.notify()
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Reconnect drops the named profiles' links and dials again at once,
// resetting the backoff; listeners stay bound.
func (m *Manager) Reconnect(ctx context.Context, names ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	es, err := m.lookup(names)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.sup != nil && e.cancel != nil {
			e.sup.force()
		}
	}
	return nil
}

// Kick tells the named profiles (all with no names) that the network may have
// changed or the machine resumed: each probes its link at once and, when the
// probe fails, redials without waiting out its backoff.
func (m *Manager) Kick(names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	es, _ := m.lookup(names)
	for _, e := range es {
		if e.sup != nil && e.cancel != nil {
			e.sup.kick()
		}
	}
}

// Reload replaces the configuration: profiles whose resolved form changed
// restart (if running), unchanged ones are left alone, removed ones stop,
// new ones are added stopped.
func (m *Manager) Reload(cfg *profile.Config) {
	m.mu.Lock()
	old := map[string]*profile.Resolved{}
	for _, n := range m.names {
		old[n] = m.entries[n].resolved
	}
	m.load(cfg)
	for name, e := range m.entries {
		if !slices.Contains(m.names, name) {
			if e.cancel != nil {
				e.cancel() // Run waits for it through m.profiles
			}
			delete(m.entries, name)
			continue
		}
		if reflect.DeepEqual(old[name], e.resolved) || e.cancel == nil {
			continue
		}
		m.logger.Info("profile changed; restarting", "profile", name)
		e.cancel()
		e.cancel = nil
		done := e.sup.done
		if e.wanted && m.runCtx != nil {
			// Restart once the old supervisor has released its listeners.
			e := e
			m.profiles.Add(1)
			go func() {
				defer m.profiles.Done()
				<-done
				m.mu.Lock()
				defer m.mu.Unlock()
				if e.wanted && m.runCtx != nil && e.cancel == nil && m.entries[e.name] == e {
					m.spawnLocked(e)
				}
			}()
		}
	}
	m.mu.Unlock()
	m.notify()
}

// Snapshot returns the state of every configured profile, sorted by name.
func (m *Manager) Snapshot(ctx context.Context) (api.Snapshot, error) {
	return m.snapshot(), nil
}

func (m *Manager) snapshot() api.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshotLocked()
}

func (m *Manager) snapshotLocked() api.Snapshot {
	snap := api.Snapshot{Profiles: make([]api.Profile, 0, len(m.names))}
	for _, n := range m.names {
		snap.Profiles = append(snap.Profiles, m.entries[n].snapshot())
	}
	return snap
}

func (e *entry) snapshot() api.Profile {
	if e.sup != nil {
		p := e.sup.snapshot()
		if e.cancel == nil && p.State != api.Failed {
			p.State = api.Stopped
			for i := range p.Forwards {
				p.Forwards[i].State = api.Closed
			}
		}
		return p
	}
	p := api.Profile{Name: e.name, State: api.Stopped, Events: e.events.list()}
	if e.resolveErr != nil {
		err := withKind(e.resolveErr, api.ErrConfig)
		p.LastError, p.ErrorKind = err.Error(), api.KindOf(err)
		return p
	}
	r := e.resolved
	p.Hops = hopNames(r)
	p.SSHCommand = sshCommand(r)
	for _, f := range r.Forwards {
		af := api.Forward{Name: f.Name, Type: f.Type, Listen: f.Listen(), Target: f.Target(), State: api.Closed}
		if f.Type == profile.Dynamic {
			af.Target = "socks5"
		}
		p.Forwards = append(p.Forwards, af)
	}
	return p
}

// Watch streams snapshots: the full state first, then the latest after each
// change. A subscriber that does not read misses snapshots; it never slows a
// profile. The channel is closed when ctx ends or Run returns.
func (m *Manager) Watch(ctx context.Context) (<-chan api.Snapshot, error) {
	s := &subscriber{ch: make(chan api.Snapshot, 1)}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("tunnel: manager has stopped")
	}
	s.ch <- m.snapshotLocked()
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	context.AfterFunc(ctx, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.subs[s]; ok {
			delete(m.subs, s)
			close(s.ch)
		}
	})
	return s.ch, nil
}

// broadcast sends the current snapshot to every subscriber, replacing an
// unread one.
func (m *Manager) broadcast() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.subs) == 0 {
		return
	}
	snap := m.snapshotLocked()
	for s := range m.subs {
		select {
		case s.ch <- snap:
			continue
		default:
		}
		select {
		case <-s.ch:
		default:
		}
		select {
		case s.ch <- snap:
		default:
		}
	}
}

// WaitReady blocks until the named profile is up with every forward
// listening (for an on-demand profile: in standby, its listeners bound),
// and returns its state. When the first connection attempt fails,
// it returns that failure (errors.Is api.ErrHostKey, ErrAuth, ErrNetwork or
// ErrForward) instead of waiting for retries. Start the profile first.
func (m *Manager) WaitReady(ctx context.Context, name string) (api.Profile, error) {
	m.mu.Lock()
	e, ok := m.entries[name]
	if !ok || !slices.Contains(m.names, name) {
		m.mu.Unlock()
		return api.Profile{}, fmt.Errorf("no profile named %q: %w", name, api.ErrConfig)
	}
	if e.resolveErr != nil {
		m.mu.Unlock()
		return api.Profile{}, fmt.Errorf("profile %q: %w", name, withKind(e.resolveErr, api.ErrConfig))
	}
	m.mu.Unlock()
	ch, err := m.Watch(ctx)
	if err != nil {
		return api.Profile{}, err
	}
	defer func() {
		// Drain so the AfterFunc's close does not race a send; Watch
		// channels are closed by ctx, which the caller owns.
		go func() {
			for range ch {
			}
		}()
	}()
	for {
		var snap api.Snapshot
		select {
		case <-ctx.Done():
			return api.Profile{}, ctx.Err()
		case s, ok := <-ch:
			if !ok {
				return api.Profile{}, fmt.Errorf("profile %q: the engine stopped", name)
			}
			snap = s
		}
		m.mu.Lock()
		sup := e.sup
		m.mu.Unlock()
		if sup != nil {
			select {
			case <-sup.first:
				sup.mu.Lock()
				ferr := sup.firstErr
				sup.mu.Unlock()
				if ferr != nil {
					return sup.snapshot(), ferr
				}
			default:
			}
		}
		p, _ := snap.Find(name)
		if p.State == api.Failed {
			return p, withKind(errors.New(p.LastError), p.ErrorKind.Sentinel())
		}
		if (p.State == api.Up || p.State == api.Standby) && allListening(p) {
			return p, nil
		}
	}
}

func allListening(p api.Profile) bool {
	for _, f := range p.Forwards {
		if f.State != api.Listening {
			return false
		}
	}
	return true
}
