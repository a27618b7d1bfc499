package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

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
	done     chan struct{} // closed when run returns
	first    chan struct{} // closed when the first attempt has a result

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
	}
	s.notify()
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
	s.update(func(p *api.Profile) { p.State = api.Connecting; p.Attempt = 1; s.setErr(p, nil); p.Note = "" })

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
		if err := f.bind(); err != nil {
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
	for {
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
				if needsPassphrase(err) {
					note = "a key needs a passphrase and nobody can type it here (headless): add the key to ssh-agent or start kuguri in a terminal"
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
			continue
		}

		s.firstResult(nil)
		l := &link{client: ch.last(), done: make(chan struct{})}
		s.board.set(l)
		upAt := s.clock.Now()
		reconnected := everUp
		everUp = true
		attempt = 0
		s.update(func(p *api.Profile) {
			p.State = api.Up
			s.setErr(p, nil)
			p.Note = ""
			p.Attempt = 0
			p.NextRetry = time.Time{}
			if reconnected {
				p.Reconnects++
			}
		})
		rctx, rcancel := context.WithCancel(ctx)
		var rwg sync.WaitGroup
		for _, f := range s.forwards {
			if f.spec.Type == profile.Remote {
				rwg.Add(1)
				go f.serveRemote(rctx, l.client, s.clock, &rwg, backoff{initial: set.Reconnect.Initial, max: set.Reconnect.Max})
			}
		}
		reason, immediate := s.hold(ctx, ch)
		rcancel()
		s.board.clear()
		close(l.done)
		ch.Close()
		rwg.Wait()
		if ctx.Err() != nil {
			return
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
func (s *supervisor) hold(ctx context.Context, ch *chain) (error, bool) {
	set := s.r.Settings
	interval := set.KeepaliveInterval
	if interval <= 0 {
		interval = 15 * time.Second
	}
	countMax := max(set.KeepaliveCountMax, 1)
	dead := interval * time.Duration(countMax)
	client := ch.last()

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
		}
	}
}

// watchNetwork polls the route to the first hop and the wall clock
// (internal/netwatch) and kicks the supervisor when the source address
// changes or the machine woke up.
func (s *supervisor) watchNetwork(ctx context.Context) {
	w := netwatch.New(netwatch.Config{
		Target: s.r.Hops[0].Addr(),
		Now:    s.clock.Now,
		Logger: s.logger,
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

// needsPassphrase reports whether auth failed because a key's passphrase
// could not be asked (headless).
func needsPassphrase(err error) bool {
	if errors.Is(err, api.ErrNoPrompter) {
		return true
	}
	var ae *sshauth.AuthError
	return errors.As(err, &ae) && errors.Is(ae.Err, api.ErrNoPrompter)
}
