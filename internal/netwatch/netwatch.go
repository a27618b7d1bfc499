package netwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// DefaultInterval is the poll period used when Config.Interval is zero.
const DefaultInterval = 3 * time.Second

// resolveTimeout bounds the name lookup of a Target given as a host name, so
// that a dead DNS server cannot stall a tick for the resolver's full timeout.
const resolveTimeout = 2 * time.Second

// wakeSlack is added to twice the interval before a wall-clock gap counts as
// a suspend: a busy 2-core phone may run a tick late, but not by seconds.
const wakeSlack = time.Second

// Config configures a Watcher. Every field but Target is optional.
type Config struct {
	// Target is host:port of the first hop. It is usually an IP literal; a
	// host name is resolved once per tick (see Resolver).
	Target string
	// Interval is the poll period; zero means DefaultInterval.
	Interval time.Duration
	// Now returns the current time; nil means time.Now. Its monotonic
	// reading is always stripped (Round(0)): only the wall clock keeps
	// running during suspend.
	Now func() time.Time
	// Probe returns the local source address the system would use to reach
	// target ("ip:port", already resolved). nil means a UDP "connect" to
	// target and a read of the socket's local address: no packet is sent.
	Probe func(ctx context.Context, target string) (netip.Addr, error)
	// Resolver resolves a Target given as a host name; nil means
	// net.DefaultResolver. On Termux pass netenv.Resolver's result.
	Resolver *net.Resolver
	// Logger receives debug lines about probes and info lines about changes;
	// nil discards them.
	Logger *slog.Logger
}

// Change is what Tick reports when the machine woke up or the route to the
// target changed. Several changes merged by Run (when the receiver was busy)
// keep the first From, the last To, and OR their flags.
type Change struct {
	// Reason says what happened, for logs and the TUI, e.g.
	// "source address changed 192.168.1.5 -> 10.0.0.2".
	Reason string
	// Wake is true when the wall clock jumped: the machine was suspended.
	Wake bool
	// From and To are the source addresses before and after; the zero
	// netip.Addr (!IsValid) means "no route".
	From, To netip.Addr

	// Moved is true when the source address changed (possibly and back again
	// when changes were merged, so From may equal To).
	Moved bool
	// Gap is the wall-clock time between the two ticks when Wake is set (the
	// largest one when changes were merged).
	Gap time.Duration
}

// Watcher polls the wall clock and the route's source address. Use New.
type Watcher struct {
	// Set at construction, read-only afterwards.
	target   string
	interval time.Duration
	now      func() time.Time
	probe    func(ctx context.Context, target string) (netip.Addr, error)
	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	log      *slog.Logger

	// Guarded by mu; Tick holds mu for its whole run, so ticks never overlap.
	mu       sync.Mutex
	started  bool       // the first tick has recorded a baseline
	lastWall time.Time  // wall-clock reading of the previous tick
	lastAddr netip.Addr // source address of the previous tick; invalid = no route
	lastIP   netip.Addr // last successful resolution of a host-name Target
}

// New returns a Watcher for cfg, filling in defaults.
func New(cfg Config) *Watcher {
	w := &Watcher{
		target:   cfg.Target,
		interval: cfg.Interval,
		now:      cfg.Now,
		probe:    cfg.Probe,
		log:      cfg.Logger,
	}
	if w.interval <= 0 {
		w.interval = DefaultInterval
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.probe == nil {
		w.probe = ProbeUDP
	}
	r := cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	w.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		return r.LookupNetIP(ctx, "ip", host)
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("target", cfg.Target)
	return w
}

// Interval returns the poll period in use.
func (w *Watcher) Interval() time.Duration { return w.interval }

// Tick takes one reading and compares it with the previous one. It reports a
// Change when the wall clock advanced by more than 2*Interval + 1s since the
// previous tick (a wake from suspend) or when the source address differs
// (including to or from "no route"). The first tick only records a baseline.
// A wall clock that went backwards (a manual or NTP correction) is recorded
// and not reported.
func (w *Watcher) Tick(ctx context.Context) (Change, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()

	wall := w.now().Round(0)
	addr, err := w.sample(ctx)
	if err != nil {
		w.log.Debug("netwatch: no route", "err", err)
	}

	if !w.started {
		w.started, w.lastWall, w.lastAddr = true, wall, addr
		w.log.Debug("netwatch: baseline", "source", addrText(addr))
		return Change{}, false
	}

	gap := wall.Sub(w.lastWall)
	from := w.lastAddr
	w.lastWall, w.lastAddr = wall, addr

	c := Change{From: from, To: addr}
	if gap > 2*w.interval+wakeSlack {
		c.Wake, c.Gap = true, gap
	}
	c.Moved = from != addr
	if !c.Wake && !c.Moved {
		return Change{}, false
	}
	c.Reason = describe(c)
	w.log.Info("netwatch: "+c.Reason, "wake", c.Wake, "from", addrText(c.From), "to", addrText(c.To))
	return c, true
}

// sample resolves the target (at most once) and probes the route to it.
func (w *Watcher) sample(ctx context.Context) (netip.Addr, error) {
	host, portText, err := net.SplitHostPort(w.target)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netwatch: target %q: %w", w.target, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netwatch: target %q: bad port: %w", w.target, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ip, err = w.resolve(ctx, host)
		if err != nil {
			return netip.Addr{}, err
		}
	}
	dst := netip.AddrPortFrom(ip, uint16(port)).String()
	a, err := w.probe(ctx, dst)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netwatch: probe %s: %w", dst, err)
	}
	if !a.IsValid() || a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("netwatch: probe %s: no source address", dst)
	}
	return a.Unmap(), nil
}

// resolve looks host up with a short timeout. When the lookup fails but an
// earlier one succeeded, the earlier address is probed instead: a DNS hiccup
// on a working network must not look like a network change (the route to the
// old address still tells whether the network moved). With no earlier
// answer, a failure means "no route".
func (w *Watcher) resolve(ctx context.Context, host string) (netip.Addr, error) {
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ips, err := w.lookup(rctx, host)
	if err == nil && len(ips) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		if w.lastIP.IsValid() {
			w.log.Debug("netwatch: resolve failed; probing the previous address", "host", host, "addr", w.lastIP, "err", err)
			return w.lastIP, nil
		}
		return netip.Addr{}, fmt.Errorf("netwatch: resolve %q: %w", host, err)
	}
	w.lastIP = ips[0].Unmap()
	return w.lastIP, nil
}

// ProbeUDP is the default Probe: it "connects" a UDP socket to target (an
// ip:port) and returns the socket's local address, which is the source
// address the kernel picked from its routing table. Connecting a UDP socket
// sends nothing on the wire.
func ProbeUDP(ctx context.Context, target string) (netip.Addr, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", target)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	ua, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}, fmt.Errorf("unexpected local address %T", c.LocalAddr())
	}
	return ua.AddrPort().Addr().Unmap(), nil
}

// Run calls Tick every Interval until ctx ends, then returns. Changes are
// sent on ch without ever blocking the loop: when the receiver is busy the
// change is held, and a later change is merged into it (latest wins: first
// From, last To, flags ORed), so at most one change is pending.
func (w *Watcher) Run(ctx context.Context, ch chan<- Change) {
	t := time.NewTicker(w.interval)
	defer t.Stop()

	var pending Change
	var have bool
	if c, ok := w.Tick(ctx); ok { // records the baseline on a fresh Watcher
		pending, have = c, true
	}
	for {
		var out chan<- Change // nil: the send case is disabled
		if have {
			out = ch
		}
		select {
		case <-ctx.Done():
			return
		case out <- pending:
			pending, have = Change{}, false
		case <-t.C:
			c, ok := w.Tick(ctx)
			if !ok {
				continue
			}
			if have {
				pending = merge(pending, c)
			} else {
				pending, have = c, true
			}
		}
	}
}

// merge folds a newer change into one not yet delivered.
func merge(old, nw Change) Change {
	m := Change{
		Wake:  old.Wake || nw.Wake,
		Moved: old.Moved || nw.Moved,
		From:  old.From,
		To:    nw.To,
		Gap:   max(old.Gap, nw.Gap),
	}
	m.Reason = describe(m)
	return m
}

// describe renders a Change's Reason from its fields.
func describe(c Change) string {
	var s string
	if c.Wake {
		s = fmt.Sprintf("woke from suspend (wall clock jumped %s)", c.Gap.Round(time.Second))
	}
	if c.Moved {
		var m string
		switch {
		case c.From == c.To:
			m = "network changed and came back to " + addrText(c.To)
		case !c.To.IsValid():
			m = fmt.Sprintf("route lost (%s -> no route)", addrText(c.From))
		case !c.From.IsValid():
			m = fmt.Sprintf("route restored (no route -> %s)", addrText(c.To))
		default:
			m = fmt.Sprintf("source address changed %s -> %s", addrText(c.From), addrText(c.To))
		}
		if s != "" {
			s += "; "
		}
		s += m
	}
	return s
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "no route"
	}
	return a.String()
}
