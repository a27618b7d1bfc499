package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kuguri/kuguri/internal/hooks"
	"github.com/kuguri/kuguri/internal/netwatch"
	"github.com/kuguri/kuguri/internal/sshauth"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

const (
	// stableAfter is how long a link must stay up for the backoff to reset.
	stableAfter = 30 * time.Second
	// Authentication failures: at most authBurst attempts in authWindow,
	// then a pause of authPause, so fail2ban never sees a brute-forcer.
	authBurst  = 3
	authWindow = 12 * time.Second
	authPause  = 5 * time.Minute
	// maxKickWait bounds the probe sent after a network change.
	maxKickWait = 5 * time.Second
)

// supervisor keeps one profile up. Its Run goroutine owns the connection and
// the state; others read snapshots under mu and send kicks.
type supervisor struct {
	// set at construction
	r        *profile.Resolved
	dialer   *dialer
	clock    Clock
	logger   *slog.Logger
	events   *eventRing
	notify   func() // non-blocking: tells the manager something changed
	board    *linkBoard
	forwards []*forward
	forceCh  chan struct{} // buffered 1: drop the link and redial now
	probeCh  chan struct{} // buffered 1: probe now, redial at once if dead
	netwatch bool          // watch the route and the wall clock, kick on change
	hooks    *hooks.Runner // nil: no hooks
	done     chan struct{} // closed when run returns
	first    chan struct{} // closed when the first attempt has a result
	// getenv is the Manager's Options.Getenv (SOCKS passwords); nil = os.Getenv.
	getenv func(string) string

	mu       sync.Mutex
	st       api.Profile // guarded by mu; Forwards and Events filled by snapshot
	firstErr error       // guarded by mu; the first attempt's failure
	dials    int         // guarded by mu; connection attempts made (tests)
}

func newSupervisor(r *profile.Resolved, d *dialer, clock Clock, logger *slog.Logger, events *eventRing, notify func(), hops []string, sshCmd string) *supervisor {
	s := &supervisor{
		r:       r,
		dialer:  d,
		clock:   clock,
		logger:  logger,
		events:  events,
		notify:  notify,
		board:   newLinkBoard(),
		forceCh: make(chan struct{}, 1),
		probeCh: make(chan struct{}, 1),
		done:    make(chan struct{}),
		first:   make(chan struct{}),
	}
	for _, f := range r.Forwards {
		s.forwards = append(s.forwards, newForward(r.Name, f, logger))
	}
	s.st = api.Profile{Name: r.Name, State: api.Stopped, Since: clock.Now(), Hops: hops, SSHCommand: sshCmd}
	return s
}

// force asks for the link to be dropped and redialled at once.
func (s *supervisor) force() {
	select {
	case s.forceCh <- struct{}{}:
	default:
	}
}

// kick asks for an immediate keepalive probe (network change, wake).
func (s *supervisor) kick() {
	select {
	case s.probeCh <- struct{}{}:
	default:
	}
}

func (s *supervisor) snapshot() api.Profile {
	s.mu.Lock()
	p := s.st
	s.mu.Unlock()
	p.Forwards = make([]api.Forward, len(s.forwards))
	for i, f := range s.forwards {
		p.Forwards[i] = f.snapshot(p.State)
	}
	p.Events = s.events.list()
	return p
}

func (s *supervisor) event(level slog.Level, text string) {
	s.events.add(api.Event{At: s.clock.Now(), Level: levelName(level), Text: text})
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	}
	return "info"
}

// update changes the state under mu, logs and records state changes, and
// notifies the manager.
func (s *supervisor) update(fn func(p *api.Profile)) {
	s.mu.Lock()
	old := s.st.State
	fn(&s.st)
	p := s.st
	if p.State != old {
		s.st.Since = s.clock.Now()
	}
	s.mu.Unlock()
	if p.State != old {
		attrs := []any{"from", old.String(), "to", p.State.String()}
		level := slog.LevelInfo
		text := "state " + p.State.String()
		if p.LastError != "" && p.State != api.Up {
			attrs = append(attrs, "err", p.LastError)
			text += ": " + p.LastError
			level = slog.LevelWarn
			if p.State == api.Failed {
				level = slog.LevelError
			}
		}
		if p.Note != "" {
			attrs = append(attrs, "note", p.Note)
			text += " (" + p.Note + ")"
		}
		s.logger.Info("state changed", attrs...)
		s.event(level, text)
		s.fireHooks(old, p)
	}
	s.notify()
}

// fireHooks runs on_up when the profile enters Up and on_down when it
// leaves Up (for reconnecting, standby, stopped or failed). The Runner
// never blocks.
func (s *supervisor) fireHooks(old api.State, p api.Profile) {
	if s.hooks == nil || old == p.State {
		return
	}
	var command string
	switch {
	case p.State == api.Up:
		command = s.r.Settings.OnUp
	case old == api.Up:
		command = s.r.Settings.OnDown
	default:
		return
	}
	s.hooks.Fire(context.Background(), command, hooks.Event{
		Profile: s.r.Name, State: p.State.String(), Prev: old.String(), LastError: p.LastError,
	})
}

func (s *supervisor) setErr(p *api.Profile, err error) {
	if err == nil {
		p.LastError, p.ErrorKind = "", api.KindNone
		return
	}
	p.LastError, p.ErrorKind = err.Error(), api.KindOf(err)
}

func (s *supervisor) firstResult(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.first:
		return
	default:
	}
	s.firstErr = err
	close(s.first)
}

func (s *supervisor) holdTimeout() time.Duration {
	if d := s.r.Settings.ConnectTimeout; d > 0 {
		return d
	}
	return 15 * time.Second
}

// run keeps the profile up until ctx ends or it fails for good.
func (s *supervisor) run(ctx context.Context) {
	defer close(s.done)
	defer s.firstResult(fmt.Errorf("profile %q stopped before connecting: %w", s.r.Name, api.ErrNetwork))
	s.update(func(p *api.Profile) {
		if !s.r.OnDemand {
			p.State, p.Attempt = api.Connecting, 1
		}
		s.setErr(p, nil)
		p.Note = ""
	})
	if err := checkRunnable(s.r); err != nil {
		s.failed(err, "")
		return
	}

	var wg sync.WaitGroup
	lctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		for _, f := range s.forwards {
			if ln := f.listener(); ln != nil {
				ln.Close()
			}
		}
		wg.Wait()
	}()
	for _, f := range s.forwards {
		if f.spec.Type == profile.Remote {
			continue
		}
		if err := f.start(s.getenv); err != nil {
			f.stats.setErr(err)
			s.failed(err, "")
			return
		}
	}
	for _, f := range s.forwards {
		if ln := f.listener(); ln != nil {
			wg.Add(1)
			go f.serve(lctx, ln, &wg, s.board, s.clock, s.holdTimeout())
		}
	}
	if s.netwatch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.watchNetwork(lctx)
		}()
	}
	s.loop(ctx, &wg)
	if ctx.Err() != nil {
		s.update(func(p *api.Profile) { p.State = api.Stopped; p.NextRetry = time.Time{}; p.Note = "" })
	}
}

func (s *supervisor) failed(err error, note string) {
	s.firstResult(err)
	s.update(func(p *api.Profile) {
		p.State = api.Failed
		s.setErr(p, err)
		p.Note = note
		p.NextRetry = time.Time{}
	})
}

func (s *supervisor) loop(ctx context.Context, wg *sync.WaitGroup) {
	set := s.r.Settings
	bo := backoff{initial: set.Reconnect.Initial, max: set.Reconnect.Max}
	var authFails []time.Time
	everUp := false
	attempt := 0
	// standby: an on-demand profile waits for a client before dialling;
	// standbyNote says why it is back there.
	standby, standbyNote := s.r.OnDemand, ""
	for {
		if standby {
			standby = false
			note := standbyNote
			s.update(func(p *api.Profile) {
				p.State = api.Standby
				p.Attempt = 0
				p.NextRetry = time.Time{}
				if note != "" {
					p.Note = note
				}
			})
			s.firstResult(nil)
			if !s.waitDemand(ctx) {
				return
			}
			attempt = 0
			s.update(func(p *api.Profile) { p.State = api.Connecting; p.Note = "" })
		}
		attempt++
		s.mu.Lock()
		s.dials++
		s.mu.Unlock()
		s.update(func(p *api.Profile) { p.Attempt = attempt; p.NextRetry = time.Time{} })
		ch, err := s.dialer.dial(ctx, s.r, nil)
		if ctx.Err() != nil {
			if ch != nil {
				ch.Close()
			}
			return
		}
		if err != nil {
			err = fmt.Errorf("profile %q: %w", s.r.Name, err)
			s.firstResult(err)
			kind := api.KindOf(err)
			if kind == api.KindHostKey || kind == api.KindConfig {
				note := ""
				if kind == api.KindHostKey {
					note = fmt.Sprintf("host key refused; not retrying. If the key is expected, run `kuguri trust %s` (a changed key must first be removed from known_hosts)", s.r.Name)
				}
				s.failed(err, note)
				return
			}
			delay := bo.next()
			note := ""
			if kind == api.KindAuth {
				now := s.clock.Now()
				kept := authFails[:0]
				for _, t := range authFails {
					if now.Sub(t) < authWindow {
						kept = append(kept, t)
					}
				}
				authFails = append(kept, now)
				if len(authFails) >= authBurst {
					delay = max(authPause, delay)
					authFails = authFails[:0]
					note = fmt.Sprintf("authentication failed %d times in %v; next try in %v", authBurst, authWindow, authPause)
				}
				if ke := passphraseNeeded(err); ke != nil {
					note = ke.Error()
				}
			}
			s.update(func(p *api.Profile) {
				p.State = api.Reconnecting
				s.setErr(p, err)
				p.Note = note
				p.Attempt = attempt + 1
				p.NextRetry = s.clock.Now().Add(delay)
			})
			if !s.sleep(ctx, delay, &bo) {
				return
			}
			if s.r.OnDemand && !s.busy() {
				// Nobody waits any more: back to standby, keeping the
				// error and the backoff.
				standby, standbyNote = true, note
			}
			continue
		}

		s.firstResult(nil)
		l := &link{client: ch.last(), done: make(chan struct{})}
		upAt := s.clock.Now()
		reconnected := everUp
		everUp = true
		attempt = 0
		s.update(func(p *api.Profile) {
			p.State = api.Up
			s.setErr(p, nil)
			p.Note = strings.Join(ch.notes, "; ")
			p.Attempt = 0
			p.NextRetry = time.Time{}
			if reconnected {
				p.Reconnects++
			}
		})
		// Publish the link after the state: a client it serves (one held
		// while the link was down, above all) never finds the profile
		// still "connecting" in a snapshot taken after its first byte.
		s.board.set(l)
		rctx, rcancel := context.WithCancel(ctx)
		var rwg sync.WaitGroup
		for _, f := range s.forwards {
			if f.spec.Type == profile.Remote {
				rwg.Add(1)
				go f.serveRemote(rctx, l.client, s.clock, &rwg, backoff{initial: set.Reconnect.Initial, max: set.Reconnect.Max})
			}
			if iv := probeInterval(f.spec, set); iv > 0 {
				rwg.Add(1)
				go s.probeLoop(rctx, f, l.client, iv, &rwg)
			}
		}
		reason, immediate := s.hold(ctx, l)
		rcancel()
		s.board.clear()
		close(l.done)
		ch.Close()
		rwg.Wait()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(reason, errIdle) {
			// An on-demand profile's redial after idling is not a
			// reconnect.
			everUp = false
			bo.reset()
			s.update(func(p *api.Profile) { s.setErr(p, nil) })
			standby, standbyNote = true, fmt.Sprintf("no client for %v: link closed; the next client dials again", s.idleTimeout())
			continue
		}
		if s.r.OnDemand && !s.busy() {
			// The link broke with nobody using it: wait for a client
			// rather than redial.
			s.update(func(p *api.Profile) { s.setErr(p, reason) })
			standby, standbyNote = true, "link lost while idle; the next client dials again"
			continue
		}
		if s.clock.Now().Sub(upAt) >= stableAfter || immediate {
			bo.reset()
		}
		delay := time.Duration(0)
		if !immediate {
			delay = bo.next()
		}
		s.update(func(p *api.Profile) {
			p.State = api.Reconnecting
			s.setErr(p, reason)
			p.Attempt = 1
			p.NextRetry = s.clock.Now().Add(delay)
		})
		if !s.sleep(ctx, delay, &bo) {
			return
		}
		if s.r.OnDemand && !s.busy() {
			standby, standbyNote = true, ""
		}
	}
}

// errIdle is hold's reason when an on-demand profile's link went unused
// for its idle timeout.
var errIdle = errors.New("idle")

// checkRunnable rejects what the engine cannot run as written.
func checkRunnable(r *profile.Resolved) error {
	if !r.OnDemand {
		return nil
	}
	for _, f := range r.Forwards {
		if f.Type == profile.Remote {
			return fmt.Errorf("profile %q: %w: on_demand cannot be used with remote forward %q: a remote forward listens on the server, so no local client would ever bring the link up; drop on_demand or move the forward to a profile of its own", r.Name, api.ErrConfig, f.Name)
		}
	}
	return nil
}

// idleTimeout is how long an on-demand link may go unused.
func (s *supervisor) idleTimeout() time.Duration {
	if d := s.r.Settings.IdleTimeout; d > 0 {
		return d
	}
	return 10 * time.Minute
}

// activity sums the clients of the local and dynamic forwards: those open
// now, and those ever accepted.
func (s *supervisor) activity() (active int64, total uint64) {
	for _, f := range s.forwards {
		if f.spec.Type == profile.Remote {
			continue
		}
		active += f.stats.active.Load()
		total += f.stats.total.Load()
	}
	return active, total
}

// busy reports whether any client is connected (served or held).
func (s *supervisor) busy() bool {
	a, _ := s.activity()
	return a > 0
}

// waitDemand waits, in standby, for a client that needs the link (or a
// Reconnect, taken as "connect now"). It returns false when ctx ended.
func (s *supervisor) waitDemand(ctx context.Context) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-s.board.demand:
			// A stale signal from a client already gone is ignored.
			if s.busy() {
				return true
			}
		case <-s.forceCh:
			return true
		case <-s.probeCh:
			// A network change: there is no link to probe.
		}
	}
}

// sleep waits d, or less when kicked (which resets the backoff). It returns
// false when ctx ended.
func (s *supervisor) sleep(ctx context.Context, d time.Duration, bo *backoff) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := s.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
	case <-s.forceCh:
		bo.reset()
	case <-s.probeCh:
		bo.reset()
	}
	return true
}

type probeResult struct {
	err  error
	sent time.Time
}

// hold keeps a live chain: a keepalive@openssh.com request every interval,
// one in flight, and a deadline of interval*countMax after the last reply.
// It returns why the link is considered gone, and whether to redial at once.
// An on-demand profile's link is also given up (reason errIdle) when no
// client has used any forward for the idle timeout.
func (s *supervisor) hold(ctx context.Context, l *link) (error, bool) {
	set := s.r.Settings
	interval := set.KeepaliveInterval
	if interval <= 0 {
		interval = 15 * time.Second
	}
	countMax := max(set.KeepaliveCountMax, 1)
	dead := interval * time.Duration(countMax)
	client := l.client

	lost := make(chan error, 1)
	go func() { lost <- client.Wait() }()

	replies := make(chan probeResult, 1)
	inflight := false
	probe := func() {
		if inflight {
			return
		}
		inflight = true
		sent := s.clock.Now()
		go func() {
			_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
			replies <- probeResult{err: err, sent: sent}
		}()
	}
	tick := s.clock.NewTimer(interval)
	defer tick.Stop()
	deadline := s.clock.NewTimer(dead)
	defer deadline.Stop()
	var kickTimer Timer
	var kickC <-chan time.Time
	defer func() {
		if kickTimer != nil {
			kickTimer.Stop()
		}
	}()
	// Idle detection (on demand): polled at a quarter of the timeout, so
	// the link closes between 1 and 1.25 idle timeouts after the last
	// client left.
	idle := s.idleTimeout()
	idleCheck := min(max(idle/4, 10*time.Millisecond), 5*time.Second)
	var idleTimer Timer
	var idleC <-chan time.Time
	idleSince := s.clock.Now()
	_, lastTotal := s.activity()
	if s.r.OnDemand {
		idleTimer = s.clock.NewTimer(idleCheck)
		defer idleTimer.Stop()
		idleC = idleTimer.C()
	}
	linkErr := func(format string, args ...any) error {
		return fmt.Errorf("profile %q: %w", s.r.Name, fmt.Errorf("%w: "+format, append([]any{api.ErrNetwork}, args...)...))
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err(), false
		case err := <-lost:
			if err == nil {
				err = io.EOF
			}
			return linkErr("connection lost: %v", err), false
		case <-s.forceCh:
			return linkErr("reconnect requested"), true
		case <-s.probeCh:
			probe()
			if kickTimer == nil {
				kickTimer = s.clock.NewTimer(min(interval, maxKickWait))
				kickC = kickTimer.C()
			}
		case <-tick.C():
			probe()
			tick.Reset(interval)
		case r := <-replies:
			inflight = false
			if r.err != nil {
				return linkErr("keepalive failed: %v", r.err), false
			}
			rtt := s.clock.Now().Sub(r.sent)
			s.mu.Lock()
			s.st.RTTMillis = float64(rtt.Microseconds()) / 1000
			s.mu.Unlock()
			deadline.Reset(dead)
			if kickTimer != nil {
				kickTimer.Stop()
				kickTimer, kickC = nil, nil
			}
		case <-deadline.C():
			return linkErr("no keepalive reply for %v (%d × %v)", dead, countMax, interval), false
		case <-kickC:
			return linkErr("no keepalive reply within %v after a network change", min(interval, maxKickWait)), true
		case <-idleC:
			now := s.clock.Now()
			active, total := s.activity()
			if active > 0 || total != lastTotal {
				idleSince, lastTotal = now, total
			} else if now.Sub(idleSince) >= idle {
				// Unpublish the link first: a client that arrives from
				// now on waits for the next one (and asks for it). One
				// that got it just before shows in the counters.
				s.board.clear()
				if active, total := s.activity(); active == 0 && total == lastTotal {
					return errIdle, false
				}
				s.board.set(l)
				idleSince, lastTotal = now, total
			}
			idleTimer.Reset(idleCheck)
		}
	}
}

// watchNetwork polls the route to the first hop and the wall clock
// (internal/netwatch) and kicks the supervisor when the source address
// changes or the machine woke up.
func (s *supervisor) watchNetwork(ctx context.Context) {
	w := netwatch.New(netwatch.Config{
		Target:   s.r.Hops[0].Addr(),
		Now:      s.clock.Now,
		Logger:   s.logger,
		Resolver: s.dialer.resolver,
	})
	// Polled on the real clock: a wake is a jump of the wall clock between
	// two polls, which only real polling sees.
	t := time.NewTicker(w.Interval())
	defer t.Stop()
	w.Tick(ctx) // baseline
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c, ok := w.Tick(ctx); ok {
			s.event(slog.LevelInfo, "network: "+c.Reason)
			s.kick()
		}
	}
}

// passphraseNeeded returns the key whose passphrase nobody could be asked
// for (headless), when that is why authentication failed.
func passphraseNeeded(err error) *sshauth.KeyError {
	var ke *sshauth.KeyError
	if errors.As(err, &ke) && errors.Is(ke, api.ErrNoPrompter) {
		return ke
	}
	return nil
}
