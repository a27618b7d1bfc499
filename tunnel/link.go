package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// link is one live connection of a profile: the last hop's client. done is
// closed when the supervisor tears it down.
type link struct {
	client *ssh.Client
	done   chan struct{}
}

// linkBoard publishes the current link to the forwards. The supervisor sets
// and clears it; forwards wait on it, so listeners can stay bound and hold
// their clients while the profile reconnects.
type linkBoard struct {
	// demand (buffered 1) is signalled, without blocking, each time a client
	// finds no link: an on-demand profile dials then.
	demand chan struct{}

	mu    sync.Mutex
	cur   *link         // guarded by mu; nil while down
	ready chan struct{} // guarded by mu; closed when cur becomes non-nil
}

func newLinkBoard() *linkBoard {
	return &linkBoard{ready: make(chan struct{}), demand: make(chan struct{}, 1)}
}

// want tells the supervisor that a client waits for a link.
func (b *linkBoard) want() {
	select {
	case b.demand <- struct{}{}:
	default:
	}
}

func (b *linkBoard) set(l *link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur = l
	close(b.ready)
}

func (b *linkBoard) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil {
		b.cur = nil
		b.ready = make(chan struct{})
	}
}

func (b *linkBoard) current() (*link, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur, b.ready
}

// errHoldExpired means a client waited for the link longer than allowed.
var errHoldExpired = errors.New("the link did not come back in time")

// openDirect opens a direct-tcpip channel to host:port over the current link,
// waiting (at most hold, measured on clock) for a link when there is none or
// the current one breaks. A refusal by the server (*ssh.OpenChannelError) is
// returned at once.
func (b *linkBoard) openDirect(ctx context.Context, clock Clock, hold time.Duration, host string, port int, orig net.Addr) (ssh.Channel, <-chan *ssh.Request, error) {
	var timer Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	startTimer := func() {
		if timer == nil {
			timer = clock.NewTimer(hold)
			expired = timer.C()
		}
	}
	payload := directPayload(host, port, orig)
	var lastErr error
	for {
		l, ready := b.current()
		if l == nil {
			b.want()
			startTimer()
			select {
			case <-ready:
				continue
			case <-expired:
				if lastErr != nil {
					return nil, nil, fmt.Errorf("%w (last error: %v)", errHoldExpired, lastErr)
				}
				return nil, nil, errHoldExpired
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		ch, reqs, err := l.client.OpenChannel("direct-tcpip", payload)
		if err == nil {
			return ch, reqs, nil
		}
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			return nil, nil, err
		}
		// The link is breaking: wait for the supervisor to replace it.
		lastErr = err
		startTimer()
		select {
		case <-l.done:
		case <-expired:
			return nil, nil, fmt.Errorf("%w (last error: %v)", errHoldExpired, lastErr)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

func directPayload(host string, port int, orig net.Addr) []byte {
	msg := struct {
		RAddr string
		RPort uint32
		LAddr string
		LPort uint32
	}{RAddr: host, RPort: uint32(port), LAddr: "127.0.0.1"}
	if ta, ok := orig.(*net.TCPAddr); ok {
		msg.LAddr = ta.IP.String()
		msg.LPort = uint32(ta.Port)
	}
	return ssh.Marshal(&msg)
}

func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, int(port), nil
}
