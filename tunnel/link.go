package tunnel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
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
	payload := directPayload(host, port, orig)
	// The usual case, once per new connection: the link is up and opens the
	// channel. No timer, no closures.
	l, _ := b.current()
	if l == nil {
		return b.openDirectWait(ctx, clock, hold, payload, nil, nil)
	}
	ch, reqs, err := l.client.OpenChannel("direct-tcpip", payload)
	if err == nil || refused(err) {
		return ch, reqs, err
	}
	return b.openDirectWait(ctx, clock, hold, payload, l, err)
}

// refused reports whether an OpenChannel error is the server's answer
// (waiting for another link would not change it) rather than a broken link.
func refused(err error) bool {
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce)
}

// openDirectWait is openDirect once there is no link, or broken is the link
// whose OpenChannel just failed with lastErr: it holds the client until a
// link opens the channel or hold runs out.
func (b *linkBoard) openDirectWait(ctx context.Context, clock Clock, hold time.Duration, payload []byte, broken *link, lastErr error) (ssh.Channel, <-chan *ssh.Request, error) {
	timer := clock.NewTimer(hold)
	defer timer.Stop()
	expired := timer.C()
	for {
		if broken != nil {
			// The link is breaking: wait for the supervisor to replace it.
			select {
			case <-broken.done:
			case <-expired:
				return nil, nil, fmt.Errorf("%w (last error: %v)", errHoldExpired, lastErr)
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			broken = nil
		}
		l, ready := b.current()
		if l == nil {
			b.want()
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
		if err == nil || refused(err) {
			return ch, reqs, err
		}
		broken, lastErr = l, err
	}
}

// directPayload is the direct-tcpip open request (RFC 4254 7.2): the
// target, then the originator's address (127.0.0.1 port 0 when it is not
// TCP). Built by hand rather than with ssh.Marshal (reflection) since it
// runs once per connection.
func directPayload(host string, port int, orig net.Addr) []byte {
	oaddr, oport := netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0
	if ta, ok := orig.(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			oaddr, oport = a.Unmap(), ta.Port
		}
	}
	b := make([]byte, 0, 4+len(host)+4+4+len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")+4)
	b = binary.BigEndian.AppendUint32(b, uint32(len(host)))
	b = append(b, host...)
	b = binary.BigEndian.AppendUint32(b, uint32(port))
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = oaddr.AppendTo(b)
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return binary.BigEndian.AppendUint32(b, uint32(oport))
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
