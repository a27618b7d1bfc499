package tunnel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// CheckReport is what Check found, hop by hop and forward by forward.
type CheckReport struct {
	Profile  string
	Hops     []HopCheck
	Forwards []ForwardCheck
}

// HopCheck is one hop's result. Connect is the TCP connect (or ProxyCommand
// start, or the channel through the previous hop); Handshake the key
// exchange, host-key check and authentication together.
type HopCheck struct {
	Hop       int
	Name      string
	Addr      string
	Connect   time.Duration
	Handshake time.Duration
	Err       error // nil when the hop was reached and logged in to
}

// ProbeResult classifies a forward probe. Its text is stable.
type ProbeResult string

const (
	Reachable  ProbeResult = "reachable"
	Refused    ProbeResult = "refused"    // the target refused or could not be reached from the server
	Prohibited ProbeResult = "prohibited" // the server does not allow forwarding there
	TimedOut   ProbeResult = "timed out"  // no answer within the connect timeout
	NotProbed  ProbeResult = "not probed" // dynamic and remote forwards; or the chain failed
	ProbeError ProbeResult = "error"      // anything else
)

// ForwardCheck is one forward's probe: a direct-tcpip channel opened to its
// target from the last hop.
type ForwardCheck struct {
	Name     string
	Type     profile.ForwardType
	Target   string
	Result   ProbeResult
	Duration time.Duration
	Err      error
}

// Check dials every hop of r (timing each), then opens a channel to every
// local forward's target and reports reachable, refused, prohibited or timed
// out. The error is the first failure: a *HopError (api.ErrHostKey,
// api.ErrAuth or api.ErrNetwork) or an api.ErrForward for a dead target. It
// binds no listener.
func Check(ctx context.Context, r *profile.Resolved, opts Options) (CheckReport, error) {
	opts = opts.withDefaults()
	rep := CheckReport{Profile: r.Name}
	shared := &authShared{prompter: opts.Prompter, logger: opts.Logger, getenv: opts.Getenv}
	d := opts.dialerFor(r.Name, shared)
	var timings []hopTiming
	ch, err := d.dial(ctx, r, &timings)
	for i, h := range r.Hops {
		hc := HopCheck{Hop: i + 1, Name: h.Name, Addr: h.Addr()}
		if i < len(timings) {
			hc.Connect, hc.Handshake = timings[i].Connect, timings[i].Handshake
			if i == len(timings)-1 && err != nil {
				hc.Err = err
			}
		}
		rep.Hops = append(rep.Hops, hc)
	}
	if err != nil {
		for _, f := range r.Forwards {
			rep.Forwards = append(rep.Forwards, ForwardCheck{Name: f.Name, Type: f.Type, Target: f.Target(), Result: NotProbed})
		}
		return rep, fmt.Errorf("profile %q: %w", r.Name, err)
	}
	defer ch.Close()
	var first error
	timeout := hopTimeout(r.Target(), r.Settings)
	for _, f := range r.Forwards {
		fc := ForwardCheck{Name: f.Name, Type: f.Type, Target: f.Target(), Result: NotProbed}
		if f.Type == profile.Local {
			fc.Result, fc.Duration, fc.Err = probeTarget(ctx, opts.Clock, ch.last(), f.Remote, timeout)
			if fc.Err != nil && first == nil {
				first = fmt.Errorf("profile %q, forward %q: target %s %s: %w: %w", r.Name, f.Name, f.Remote, fc.Result, api.ErrForward, fc.Err)
			}
		}
		rep.Forwards = append(rep.Forwards, fc)
	}
	return rep, first
}

// probeTarget opens a direct-tcpip channel to target through c and closes
// it at once, bounded by timeout on clock. A refusal by the server is a
// *refusal (wording openChannelText, unwrapping to the
// *ssh.OpenChannelError).
func probeTarget(ctx context.Context, clock Clock, c *ssh.Client, target string, timeout time.Duration) (ProbeResult, time.Duration, error) {
	host, port, err := splitHostPort(target)
	if err != nil {
		return ProbeError, 0, err
	}
	type result struct {
		ch  ssh.Channel
		err error
	}
	res := make(chan result, 1)
	start := clock.Now()
	go func() {
		ch, reqs, err := c.OpenChannel("direct-tcpip", directPayload(host, port, nil))
		if err == nil {
			go ssh.DiscardRequests(reqs)
		}
		res <- result{ch, err}
	}()
	// A channel that opens after the caller gave up is closed; the opener
	// ends at the latest when the connection is closed.
	abandon := func() {
		go func() {
			if r := <-res; r.ch != nil {
				r.ch.Close()
			}
		}()
	}
	t := clock.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-res:
		d := clock.Now().Sub(start)
		if r.err == nil {
			r.ch.Close()
			return Reachable, d, nil
		}
		var oce *ssh.OpenChannelError
		if errors.As(r.err, &oce) {
			if oce.Reason == ssh.Prohibited {
				return Prohibited, d, &refusal{oce}
			}
			return Refused, d, &refusal{oce}
		}
		return ProbeError, d, r.err
	case <-t.C():
		abandon()
		return TimedOut, clock.Now().Sub(start), fmt.Errorf("no answer within %v", timeout)
	case <-ctx.Done():
		abandon()
		return ProbeError, clock.Now().Sub(start), ctx.Err()
	}
}

// refusal is a channel open refused by the server.
type refusal struct{ oce *ssh.OpenChannelError }

func (r *refusal) Error() string { return openChannelText(r.oce) }
func (r *refusal) Unwrap() error { return r.oce }
