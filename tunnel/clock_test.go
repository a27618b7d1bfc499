package tunnel

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	ch     chan time.Time
	when   time.Time
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	t.arm(d)
	return t
}

// arm sets the timer; c.mu held.
func (t *fakeTimer) arm(d time.Duration) {
	select {
	case <-t.ch:
	default:
	}
	t.when = t.c.now.Add(d)
	t.active = true
	if d <= 0 {
		t.active = false
		t.ch <- t.c.now
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.arm(d)
	return was
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.active && !t.when.After(c.now) {
			t.active = false
			select {
			case t.ch <- c.now:
			default:
			}
		}
		if t.active {
			kept = append(kept, t)
		}
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// pending returns how many timers are armed.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active {
			n++
		}
	}
	return n
}

func TestBackoffCappedFullJitter(t *testing.T) {
	var asked []int64
	b := backoff{initial: time.Second, max: 10 * time.Second, rand: func(n int64) int64 { asked = append(asked, n); return n - 1 }}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		if got := b.next(); got != w*time.Second {
			t.Fatalf("delay %d: %v, want %v", i, got, w*time.Second)
		}
	}
	b.reset()
	if got := b.next(); got != time.Second {
		t.Fatalf("after reset: %v", got)
	}
	// Full jitter: the whole range [0, ceiling] is drawn from.
	b = backoff{initial: time.Second, max: 10 * time.Second, rand: func(n int64) int64 { return 0 }}
	if got := b.next(); got != 0 {
		t.Fatalf("jitter low end: %v", got)
	}
	// The real source stays within the ceiling.
	b = backoff{initial: time.Second, max: 3 * time.Second}
	for range 100 {
		if d := b.next(); d < 0 || d > 3*time.Second {
			t.Fatalf("delay %v out of [0, 3s]", d)
		}
	}
}

func TestAuthFailuresNotHammered(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	e.setup.signer = newSigner(t) // rejected
	clk := newFakeClock()
	e.opts.Clock = clk
	set := testSettings()
	set.Reconnect = profile.Backoff{Initial: time.Second, Max: 4 * time.Second}
	e.add(&profile.Resolved{Name: "vps", Settings: set, Hops: []profile.Hop{hopFor("vps", srv.addr)}})
	m := e.run()
	if err := m.Start(context.Background(), "vps"); err != nil {
		t.Fatal(err)
	}
	sup := func() *supervisor {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.entries["vps"].sup
	}
	waitFor(t, 5*time.Second, "supervisor", func() bool { return sup() != nil })
	s := sup()
	var times []time.Time
	for n := 1; n <= 7; n++ {
		waitFor(t, 5*time.Second, "attempt waiting", func() bool {
			s.mu.Lock()
			d := s.dials
			s.mu.Unlock()
			p := profState(m, "vps")
			return d == n && clk.pending() == 1 && p.State == api.Reconnecting && !p.NextRetry.IsZero()
		})
		now := clk.Now()
		times = append(times, now)
		p := profState(m, "vps")
		if p.ErrorKind != api.KindAuth {
			t.Fatalf("attempt %d: kind %q (%s)", n, p.ErrorKind, p.LastError)
		}
		delay := p.NextRetry.Sub(now)
		if n%3 == 0 {
			if delay < authPause || !strings.Contains(p.Note, "authentication failed") {
				t.Fatalf("after %d auth failures: next try in %v, note %q", n, delay, p.Note)
			}
		}
		clk.Advance(delay)
	}
	for i := range times {
		in := 0
		for _, u := range times[i:] {
			if u.Sub(times[i]) < authWindow {
				in++
			}
		}
		if in > authBurst {
			t.Fatalf("%d auth attempts within %v from attempt %d: %v", in, authWindow, i+1, times)
		}
	}
	if got := srv.authFails.Load(); got < 7 {
		t.Fatalf("server saw %d auth failures", got)
	}
}
