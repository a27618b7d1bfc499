package tunnel

import (
	"context"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// TrustStatus says what Trust found or did for one hop's host key. Its text
// is stable.
type TrustStatus string

const (
	TrustKnown      TrustStatus = "known"         // known_hosts already held it
	TrustSaved      TrustStatus = "added"         // unknown; accepted and saved
	TrustOnce       TrustStatus = "accepted once" // unknown; accepted for this run only
	TrustRejected   TrustStatus = "rejected"      // unknown; the Prompter said no
	TrustRefused    TrustStatus = "refused"       // changed or revoked: never accepted
	TrustNotReached TrustStatus = "not reached"   // an earlier hop failed
)

// TrustHop is one hop's host key as Trust saw it.
type TrustHop struct {
	Hop         int
	Name        string
	Addr        string
	KeyType     string // "" when not reached
	Fingerprint string // SHA256:...
	Status      TrustStatus
}

// TrustReport lists every hop's key, first hop first.
type TrustReport struct {
	Profile string
	Hops    []TrustHop
}

// Trust connects to r hop by hop (logging in to each to reach the next) and
// reports every hop's host key, letting opts.Prompter decide about unknown
// ones; accepted keys are saved by the Prompter's answer. Changed and revoked
// keys are refused as everywhere. StrictHostKeyChecking=yes is treated as
// "ask" here: asking is the point of trust.
func Trust(ctx context.Context, r *profile.Resolved, opts Options) (TrustReport, error) {
	opts = opts.withDefaults()
	rc := *r
	rc.Hops = make([]profile.Hop, len(r.Hops))
	rep := TrustReport{Profile: r.Name}
	for i, h := range r.Hops {
		if h.StrictHostKeyChecking == "yes" || h.StrictHostKeyChecking == "" {
			h.StrictHostKeyChecking = "ask"
		}
		rc.Hops[i] = h
		rep.Hops = append(rep.Hops, TrustHop{Hop: i + 1, Name: h.Name, Addr: h.Addr(), Status: TrustNotReached})
	}
	shared := &authShared{prompter: opts.Prompter, logger: opts.Logger, getenv: opts.Getenv}
	d := opts.dialerFor(r.Name, shared)
	obs := &trustObserver{inner: d.setup, rep: &rep}
	d.setup = obs
	ch, err := d.dial(ctx, &rc, nil)
	obs.mu.Lock()
	out := rep
	out.Hops = append([]TrustHop(nil), rep.Hops...)
	obs.mu.Unlock()
	if err != nil {
		return out, fmt.Errorf("profile %q: %w", r.Name, err)
	}
	return out, ch.Close()
}

// trustObserver wraps a hopSetup to record each hop's presented key and what
// became of it.
type trustObserver struct {
	inner hopSetup
	mu    sync.Mutex
	rep   *TrustReport // guarded by mu
}

func (o *trustObserver) hostKey(ctx context.Context, hop int, h profile.Hop, p api.Prompter) (ssh.HostKeyCallback, []string, error) {
	asked := &askRecorder{Prompter: p}
	cb, algos, err := o.inner.hostKey(ctx, hop, h, asked)
	if err != nil {
		return nil, nil, err
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		d, was := asked.answer()
		var status TrustStatus
		switch {
		case !was && err == nil:
			status = TrustKnown
		case !was:
			status = TrustRefused // changed or revoked: nobody is asked
		case err != nil:
			status = TrustRejected
		case d == api.AcceptAndSave:
			status = TrustSaved
		case d == api.AcceptOnce:
			status = TrustOnce
		default:
			status = TrustRejected
		}
		o.mu.Lock()
		if i := hop - 1; i >= 0 && i < len(o.rep.Hops) {
			th := &o.rep.Hops[i]
			th.KeyType, th.Fingerprint, th.Status = key.Type(), ssh.FingerprintSHA256(key), status
		}
		o.mu.Unlock()
		return err
	}, algos, nil
}

func (o *trustObserver) auth(ctx context.Context, hop int, h profile.Hop, p api.Prompter) (hopAuth, error) {
	return o.inner.auth(ctx, hop, h, p)
}

// askRecorder remembers the host-key decision a Prompter gave.
type askRecorder struct {
	api.Prompter
	mu       sync.Mutex
	asked    bool
	decision api.HostKeyDecision
}

func (a *askRecorder) HostKey(ctx context.Context, q api.HostKeyQuestion) (api.HostKeyDecision, error) {
	d, err := a.Prompter.HostKey(ctx, q)
	a.mu.Lock()
	a.asked, a.decision = true, d
	if err != nil {
		a.decision = api.Reject
	}
	a.mu.Unlock()
	return d, err
}

func (a *askRecorder) answer() (api.HostKeyDecision, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.decision, a.asked
}
