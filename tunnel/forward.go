package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// forward is one of a profile's forwards while the profile runs.
type forward struct {
	// set at construction
	spec    profile.Forward
	profile string
	stats   fwdStats
	logger  *slog.Logger
	socks   *socksAuth // set by start before serving; nil: SOCKS5 without authentication

	mu           sync.Mutex
	ln           net.Listener     // guarded by mu; set by bind (local and dynamic)
	listen       string           // guarded by mu; the bound address
	remoteState  api.ForwardState // guarded by mu; remote forwards
	remoteListen string           // guarded by mu; remote forwards: the address granted
	probe        *api.Probe       // guarded by mu; the last health probe, nil before any
	targetDown   bool             // guarded by mu; the last probe found the target dead
	downText     string           // guarded by mu; what that probe said
}

func newForward(profileName string, spec profile.Forward, logger *slog.Logger) *forward {
	return &forward{spec: spec, profile: profileName, logger: logger.With("forward", spec.Name)}
}

// errorf builds an api.ErrForward error naming the forward and profile.
func (f *forward) errorf(format string, args ...any) error {
	return fmt.Errorf("profile %q, forward %q: %w: %w", f.profile, f.spec.Name, api.ErrForward, fmt.Errorf(format, args...))
}

// bind opens the listener of a local or dynamic forward.
func (f *forward) bind() error {
	addr := f.spec.Local
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return f.errorf("bad listen address %q: %v", addr, err)
	}
	if !f.spec.AllowNonLoopback && !isLoopbackHost(host) {
		return f.errorf("listen address %s is not loopback (set allow_non_loopback to allow it)", addr)
	}
	// A loopback client is on this machine: TCP keepalive (Go's default
	// for accepted sockets, two setsockopt calls each) would only ever
	// probe ourselves.
	var lc net.ListenConfig
	if isLoopbackHost(host) {
		lc.KeepAlive = -1
	}
	ln, err := lc.Listen(context.Background(), listenNetwork(host), addr)
	if err != nil {
		if errors.Is(err, syscallEADDRINUSE) {
			return f.errorf("local port %s is already in use", addr)
		}
		return f.errorf("listen on %s: %v", addr, err)
	}
	f.mu.Lock()
	f.ln = ln
	f.listen = ln.Addr().String()
	f.mu.Unlock()
	return nil
}

// listenNetwork keeps a bind to the address family the profile wrote, as
// OpenSSH does: Go's "tcp" turns 0.0.0.0 into a dual-stack wildcard that
// also listens on every IPv6 address.
func listenNetwork(host string) string {
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() != nil {
			return "tcp4"
		}
		return "tcp6"
	}
	return "tcp"
}

// listener returns the bound listener, nil when none.
func (f *forward) listener() net.Listener {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ln
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serve accepts clients until the listener is closed. Each client is handled
// in its own goroutine tracked by wg.
func (f *forward) serve(ctx context.Context, ln net.Listener, wg *sync.WaitGroup, board *linkBoard, clock Clock, hold time.Duration) {
	defer wg.Done()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			// Out of fds and such: back off a little, like net/http.
			delay = min(max(delay*2, 5*time.Millisecond), time.Second)
			f.stats.setErr(fmt.Errorf("accept: %w", err))
			t := clock.NewTimer(delay)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.handle(ctx, conn, board, clock, hold)
		}()
		// Let the new client's goroutine run first: it opens the channel
		// (one packet to the server) before this one asks the listener for
		// the next client, which usually finds none (EAGAIN) and parks.
		runtime.Gosched()
	}
}

func (f *forward) handle(ctx context.Context, conn net.Conn, board *linkBoard, clock Clock, hold time.Duration) {
	f.stats.active.Add(1)
	f.stats.total.Add(1)
	defer f.stats.active.Add(-1)
	// Go sets TCP_NODELAY on every TCP socket it accepts.

	var host string
	var port int
	var socks *socksRequest
	if f.spec.Type == profile.Dynamic {
		req, err := f.socksHandshake(conn, clock)
		if err != nil {
			f.stats.setErr(fmt.Errorf("socks: %w", err))
			conn.Close()
			return
		}
		socks = req
		host, port = req.host, req.port
	} else {
		var err error
		host, port, err = splitHostPort(f.spec.Remote)
		if err != nil {
			f.stats.setErr(err)
			conn.Close()
			return
		}
	}

	ch, reqs, err := board.openDirect(ctx, clock, hold, host, port, conn.RemoteAddr())
	if err != nil {
		target := net.JoinHostPort(host, fmt.Sprint(port))
		var oce *ssh.OpenChannelError
		switch {
		case errors.As(err, &oce):
			f.stats.setErr(fmt.Errorf("%s: %s", target, openChannelText(oce)))
		case errors.Is(err, errHoldExpired):
			f.stats.setErr(fmt.Errorf("%s: client closed: %w", target, err))
		case ctx.Err() != nil:
		default:
			f.stats.setErr(fmt.Errorf("%s: %w", target, err))
		}
		f.logger.Debug("forward connection failed", "target", target, "err", err)
		if socks != nil {
			socks.reply(conn, socksReplyFor(err))
		}
		conn.Close()
		return
	}
	if socks != nil {
		if err := socks.reply(conn, socksSucceeded); err != nil {
			ch.Close()
			conn.Close()
			return
		}
	}
	bridge(conn, ch, reqs, &f.stats)
}

// openChannelText words a channel refusal the way people read it.
func openChannelText(e *ssh.OpenChannelError) string {
	switch e.Reason {
	case ssh.Prohibited:
		return "prohibited by the server: " + e.Message
	case ssh.ConnectionFailed:
		if e.Message == "" {
			return "connection refused"
		}
		return "connection failed: " + e.Message
	}
	return e.Error()
}

// snapshot returns the forward's public state, given the profile's state.
func (f *forward) snapshot(ps api.State) api.Forward {
	f.mu.Lock()
	listen, bound := f.listen, f.ln != nil
	remoteState, remoteListen := f.remoteState, f.remoteListen
	f.mu.Unlock()
	out := api.Forward{
		Name:      f.spec.Name,
		Type:      f.spec.Type,
		Listen:    listen,
		Target:    f.spec.Target(),
		Active:    int(f.stats.active.Load()),
		Total:     f.stats.total.Load(),
		BytesIn:   f.stats.bytesIn.Load(),
		BytesOut:  f.stats.bytesOut.Load(),
		LastError: f.stats.errText(),
	}
	if out.Listen == "" {
		out.Listen = f.spec.Listen()
	}
	if f.spec.Type == profile.Dynamic {
		out.Target = "socks5"
	}
	switch ps {
	case api.Stopped:
		out.State = api.Closed
	case api.Up, api.Standby:
		// Standby: bound, and the first client dials the link.
		out.State = api.Listening
	case api.Failed:
		out.State = api.Error
	default:
		out.State = api.Waiting
	}
	if f.spec.Type == profile.Remote {
		if ps == api.Up {
			out.State = remoteState
		}
		if remoteListen != "" {
			out.Listen = remoteListen
		}
	} else if !bound && ps != api.Stopped {
		out.State = api.Error
	}
	f.mu.Lock()
	if f.probe != nil {
		p := *f.probe
		out.Probe = &p
		if f.targetDown && ps == api.Up && out.State == api.Listening {
			out.State = api.Error
		}
	}
	f.mu.Unlock()
	return out
}
