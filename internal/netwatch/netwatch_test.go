package netwatch

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	addrA = netip.MustParseAddr("192.168.1.5")
	addrB = netip.MustParseAddr("10.0.0.2")
	errNo = errors.New("connect: network is unreachable")
)

// fakeClock is a settable wall clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeProbe returns a settable result and records the targets it was asked.
type fakeProbe struct {
	mu      sync.Mutex
	addr    netip.Addr
	err     error
	targets []string
	calls   atomic.Int64
}

func (p *fakeProbe) Set(a netip.Addr, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addr, p.err = a, err
}

func (p *fakeProbe) Probe(_ context.Context, target string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.targets = append(p.targets, target)
	p.calls.Add(1)
	return p.addr, p.err
}

func (p *fakeProbe) Targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func newFake(t *testing.T, target string) (*Watcher, *fakeClock, *fakeProbe) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	pr := &fakeProbe{}
	w := New(Config{Target: target, Interval: 3 * time.Second, Now: clk.Now, Probe: pr.Probe})
	return w, clk, pr
}

// step is one tick of a scripted sequence: advance the clock, set the probe's
// answer, tick, and expect (or not) a change.
type step struct {
	advance time.Duration
	addr    netip.Addr
	err     error
	want    *Change // nil: no change expected
}

func TestTickSequences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first tick only records", []step{
			{addr: addrA},
		}},
		{"first tick records no-route too", []step{
			{err: errNo},
			{advance: 3 * time.Second, err: errNo},
		}},
		{"no change", []step{
			{addr: addrA},
			{advance: 3 * time.Second, addr: addrA},
			{advance: 3 * time.Second, addr: addrA},
		}},
		{"address change", []step{
			{addr: addrA},
			{advance: 3 * time.Second, addr: addrB, want: &Change{
				Reason: "source address changed 192.168.1.5 -> 10.0.0.2", From: addrA, To: addrB, Moved: true}},
			{advance: 3 * time.Second, addr: addrB},
		}},
		{"wake jump", []step{
			{addr: addrA},
			{advance: 10 * time.Minute, addr: addrA, want: &Change{
				Reason: "woke from suspend (wall clock jumped 10m0s)", Wake: true, From: addrA, To: addrA, Gap: 10 * time.Minute}},
			{advance: 3 * time.Second, addr: addrA},
		}},
		{"late tick just under the threshold is not a wake", []step{
			{addr: addrA},
			{advance: 7 * time.Second, addr: addrA},
			{advance: 7*time.Second + time.Millisecond, addr: addrA, want: &Change{
				Reason: "woke from suspend (wall clock jumped 7s)", Wake: true, From: addrA, To: addrA, Gap: 7*time.Second + time.Millisecond}},
		}},
		{"clock set backwards is not reported", []step{
			{addr: addrA},
			{advance: -time.Hour, addr: addrA},
			{advance: 3 * time.Second, addr: addrA},
		}},
		{"wake and move together", []step{
			{addr: addrA},
			{advance: time.Hour, addr: addrB, want: &Change{
				Reason: "woke from suspend (wall clock jumped 1h0m0s); source address changed 192.168.1.5 -> 10.0.0.2",
				Wake:   true, Moved: true, From: addrA, To: addrB, Gap: time.Hour}},
		}},
		{"error then recovery", []step{
			{addr: addrA},
			{advance: 3 * time.Second, err: errNo, want: &Change{
				Reason: "route lost (192.168.1.5 -> no route)", From: addrA, Moved: true}},
			{advance: 3 * time.Second, err: errNo},
			{advance: 3 * time.Second, addr: addrB, want: &Change{
				Reason: "route restored (no route -> 10.0.0.2)", To: addrB, Moved: true}},
		}},
		{"unspecified source address counts as no route", []step{
			{addr: addrA},
			{advance: 3 * time.Second, addr: netip.IPv4Unspecified(), want: &Change{
				Reason: "route lost (192.168.1.5 -> no route)", From: addrA, Moved: true}},
		}},
		{"v4-mapped source address is unmapped", []step{
			{addr: addrA},
			{advance: 3 * time.Second, addr: netip.AddrFrom16(addrA.As16())},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, clk, pr := newFake(t, "203.0.113.9:22022")
			for i, s := range tc.steps {
				clk.Advance(s.advance)
				pr.Set(s.addr, s.err)
				got, ok := w.Tick(context.Background())
				switch {
				case s.want == nil && ok:
					t.Fatalf("step %d: unexpected change %+v", i, got)
				case s.want != nil && !ok:
					t.Fatalf("step %d: no change, want %+v", i, *s.want)
				case s.want != nil && got != *s.want:
					t.Fatalf("step %d: got %+v\nwant %+v", i, got, *s.want)
				}
			}
			for _, tg := range pr.Targets() {
				if tg != "203.0.113.9:22022" {
					t.Errorf("probe target = %q, want the IP target unchanged", tg)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	w := New(Config{Target: "127.0.0.1:9"})
	if w.Interval() != DefaultInterval {
		t.Errorf("Interval = %v, want %v", w.Interval(), DefaultInterval)
	}
	if got := New(Config{Interval: time.Second}).Interval(); got != time.Second {
		t.Errorf("Interval = %v, want 1s", got)
	}
}

func TestBadTargetIsNoRoute(t *testing.T) {
	for _, target := range []string{"", "203.0.113.9", "203.0.113.9:http", "203.0.113.9:70000"} {
		w, clk, pr := newFake(t, target)
		pr.Set(addrA, nil)
		w.Tick(context.Background())
		clk.Advance(time.Second)
		if c, ok := w.Tick(context.Background()); ok {
			t.Errorf("target %q: unexpected change %+v", target, c)
		}
		if n := pr.calls.Load(); n != 0 {
			t.Errorf("target %q: probe called %d times, want 0", target, n)
		}
		w.mu.Lock()
		if w.lastAddr.IsValid() {
			t.Errorf("target %q: recorded %v, want no route", target, w.lastAddr)
		}
		w.mu.Unlock()
	}
}

func TestHostNameTarget(t *testing.T) {
	w, clk, pr := newFake(t, "vps.test:22022")
	pr.Set(addrA, nil)
	var lookups atomic.Int64
	answer := []netip.Addr{netip.MustParseAddr("::ffff:198.51.100.7")}
	var lookErr error
	w.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if host != "vps.test" {
			t.Errorf("lookup host = %q", host)
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("lookup without a deadline")
		}
		return answer, lookErr
	}

	// No answer yet and the lookup fails: no route, probe not called.
	lookErr = errors.New("i/o timeout")
	w.Tick(context.Background())
	if pr.calls.Load() != 0 {
		t.Fatal("probe called although the name did not resolve")
	}

	// Resolves: the probe gets the resolved, unmapped address; the move
	// from no route is a change.
	lookErr = nil
	clk.Advance(3 * time.Second)
	c, ok := w.Tick(context.Background())
	if !ok || c.To != addrA || c.From.IsValid() {
		t.Fatalf("got %+v, %v; want route restored to %v", c, ok, addrA)
	}
	if got := pr.Targets(); len(got) != 1 || got[0] != "198.51.100.7:22022" {
		t.Fatalf("probe targets = %q", got)
	}

	// DNS hiccup on a working network: the previous address is probed, no
	// change is reported.
	lookErr = errors.New("i/o timeout")
	answer = nil
	clk.Advance(3 * time.Second)
	if c, ok := w.Tick(context.Background()); ok {
		t.Fatalf("DNS failure after a success reported %+v", c)
	}
	if got := pr.Targets(); len(got) != 2 || got[1] != "198.51.100.7:22022" {
		t.Fatalf("probe targets = %q", got)
	}
	if n := lookups.Load(); n != 3 {
		t.Errorf("lookups = %d, want exactly one per tick (3)", n)
	}
}

// The name is resolved through Config.Resolver; a resolver that cannot reach
// any DNS server gives "no route" without probing.
func TestResolverFailureIsNoRoute(t *testing.T) {
	var dials atomic.Int64
	r := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("no DNS here")
	}}
	pr := &fakeProbe{addr: addrA}
	w := New(Config{Target: "vps.invalid.:22", Probe: pr.Probe, Resolver: r})
	w.Tick(context.Background())
	if pr.calls.Load() != 0 {
		t.Fatal("probe called although the name did not resolve")
	}
	if dials.Load() == 0 {
		t.Fatal("Config.Resolver was not used")
	}
}

func TestProbeUDPLoopback(t *testing.T) {
	a, err := ProbeUDP(context.Background(), "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	if a != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("source = %v, want 127.0.0.1", a)
	}

	// Through a Watcher with the default probe.
	clk := &fakeClock{t: time.Now()}
	w := New(Config{Target: "127.0.0.1:9", Now: clk.Now})
	w.Tick(context.Background())
	clk.Advance(3 * time.Second)
	if c, ok := w.Tick(context.Background()); ok {
		t.Fatalf("unexpected change %+v", c)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastAddr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("recorded source %v, want 127.0.0.1", w.lastAddr)
	}
}

// waitCalls polls until the probe has been called at least n times.
func waitCalls(t *testing.T, pr *fakeProbe, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pr.calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("probe called %d times, want >= %d", pr.calls.Load(), n)
		}
		time.Sleep(time.Millisecond) // polling, not waiting for an event
	}
}

func startRun(t *testing.T, w *Watcher, ch chan Change) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, ch) }()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
}

func recv(t *testing.T, ch chan Change) Change {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change received")
		return Change{}
	}
}

func TestRunDeliversChanges(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	pr := &fakeProbe{addr: addrA}
	w := New(Config{Target: "203.0.113.9:22", Interval: time.Millisecond, Now: clk.Now, Probe: pr.Probe})
	ch := make(chan Change)
	stop := startRun(t, w, ch)
	defer stop()

	waitCalls(t, pr, 2) // baseline recorded
	pr.Set(addrB, nil)
	c := recv(t, ch)
	if c.From != addrA || c.To != addrB || !c.Moved || c.Wake {
		t.Fatalf("got %+v, want a move %v -> %v", c, addrA, addrB)
	}

	clk.Advance(time.Hour)
	c = recv(t, ch)
	if !c.Wake || c.Moved || c.Gap < time.Hour {
		t.Fatalf("got %+v, want a wake", c)
	}
}

// While the receiver is busy, later changes are merged into the pending one
// (latest wins) and the loop keeps ticking.
func TestRunMergesWhileReceiverBusy(t *testing.T) {
	clk := &fakeClock{t: time.Now()}
	pr := &fakeProbe{addr: addrA}
	w := New(Config{Target: "203.0.113.9:22", Interval: time.Millisecond, Now: clk.Now, Probe: pr.Probe})
	ch := make(chan Change) // nobody receives until the end
	stop := startRun(t, w, ch)
	defer stop()

	waitCalls(t, pr, 2)
	pr.Set(addrB, nil)
	waitCalls(t, pr, pr.calls.Load()+2) // a tick saw B
	clk.Advance(time.Hour)
	addrC := netip.MustParseAddr("172.16.0.3")
	pr.Set(addrC, nil)
	waitCalls(t, pr, pr.calls.Load()+2) // a tick saw C and the jump

	c := recv(t, ch)
	want := Change{
		Reason: "woke from suspend (wall clock jumped 1h0m0s); source address changed 192.168.1.5 -> 172.16.0.3",
		Wake:   true, Moved: true, From: addrA, To: addrC, Gap: c.Gap,
	}
	if c != want || c.Gap < time.Hour {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	select {
	case c := <-ch:
		t.Fatalf("a second change %+v was queued; want one merged change", c)
	default:
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	pr := &fakeProbe{addr: addrA}
	w := New(Config{Target: "203.0.113.9:22", Interval: time.Millisecond, Probe: pr.Probe})
	ch := make(chan Change)
	stop := startRun(t, w, ch)
	waitCalls(t, pr, 2)
	pr.Set(addrB, nil) // leave a change pending that nobody receives
	waitCalls(t, pr, pr.calls.Load()+2)
	stop()
}

func TestMergeCameBack(t *testing.T) {
	m := merge(Change{From: addrA, To: addrB, Moved: true}, Change{From: addrB, To: addrA, Moved: true})
	if m.From != addrA || m.To != addrA || !m.Moved || !strings.Contains(m.Reason, "came back to 192.168.1.5") {
		t.Fatalf("got %+v", m)
	}
}
