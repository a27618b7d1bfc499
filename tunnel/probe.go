package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// defaultProbeInterval is the probe period of a forward with probe: true and
// no interval anywhere.
const defaultProbeInterval = 30 * time.Second

// probeInterval returns how often f's target is probed, 0 when it is not.
// Probes are on when the forward says probe: true or an interval is set (on
// the forward, or for the profile in Settings). Only local forwards have a
// fixed target to probe.
func probeInterval(f profile.Forward, s profile.Settings) time.Duration {
	if f.Type != profile.Local {
		return 0
	}
	switch {
	case f.ProbeInterval > 0:
		return f.ProbeInterval
	case s.ProbeInterval > 0:
		return s.ProbeInterval
	case f.Probe:
		return defaultProbeInterval
	}
	return 0
}

// probeLoop probes f's target through client at once and then every
// interval until ctx ends (the link goes away). A dead target marks the
// forward (state Error, LastError) and nothing else: the link, the profile's
// state and the other forwards are left alone.
func (s *supervisor) probeLoop(ctx context.Context, f *forward, client *ssh.Client, interval time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		at := s.clock.Now()
		res, d, err := probeTarget(ctx, s.clock, client, f.spec.Remote, s.holdTimeout())
		if ctx.Err() != nil {
			return
		}
		s.recordProbe(f, at, res, d, err)
		t := s.clock.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// recordProbe stores one probe's result on f, logging and recording an
// event when the target goes down or comes back.
func (s *supervisor) recordProbe(f *forward, at time.Time, res ProbeResult, d time.Duration, err error) {
	p := &api.Probe{At: at, OK: err == nil, Millis: float64(d.Microseconds()) / 1000}
	var text string
	if err != nil {
		text = probeErrText(f.spec.Remote, res, err)
		p.LastError = text
	}
	// A failure to probe at all (the link breaking under the probe) says
	// nothing about the target: the keepalive deals with the link.
	judged := res != ProbeError
	f.mu.Lock()
	f.probe = p
	wasDown, downText := f.targetDown, f.downText
	if judged {
		f.targetDown, f.downText = err != nil, text
	}
	f.mu.Unlock()

	switch {
	case !judged:
	case err != nil:
		f.stats.setErr(errors.New(text))
		if !wasDown {
			f.logger.Warn("forward target down", "target", f.spec.Remote, "err", text)
			s.event(slog.LevelWarn, fmt.Sprintf("forward %s: %s", f.spec.Name, text))
		}
	case wasDown:
		// Clear the forward's error unless a client has reported another
		// one since.
		if f.stats.errText() == downText {
			f.stats.setErr(nil)
		}
		f.logger.Info("forward target reachable again", "target", f.spec.Remote)
		s.event(slog.LevelInfo, fmt.Sprintf("forward %s: target %s reachable again", f.spec.Name, f.spec.Remote))
	}
	s.notify()
}

// probeErrText words a failed probe: "target 10.0.0.5:3389 refused: connect
// failed (Connection refused)".
func probeErrText(target string, res ProbeResult, err error) string {
	detail := err.Error()
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) {
		msg := oce.Message
		switch oce.Reason {
		case ssh.ConnectionFailed:
			detail = "connect failed"
		case ssh.Prohibited:
			detail = "prohibited by the server"
		default:
			detail = oce.Reason.String()
		}
		if msg != "" {
			detail += " (" + msg + ")"
		}
	}
	return fmt.Sprintf("target %s %s: %s", target, res, detail)
}
