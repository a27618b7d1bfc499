package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kuguri/kuguri/tunnel/api"
)

// clientWriteTimeout bounds one request write when ctx has no deadline.
const clientWriteTimeout = 10 * time.Second

// Client talks to a kuguri up through its control socket. It implements
// api.Backend, so the TUI and the headless commands drive a remote engine
// exactly like a local one.
//
// Snapshot, Start, Stop, Reconnect and Hello share one connection and may be
// called concurrently: requests carry ids and answers are matched to them.
// When that connection is lost, the next call dials again. Each Watch has a
// connection of its own, closed when its ctx ends, so that ending a watch
// needs no protocol of its own. Cancelling a call's ctx abandons the answer;
// the server still completes the request.
type Client struct {
	path   string
	nextID atomic.Uint64

	mu     sync.Mutex
	closed bool
	shared *clientConn           // the connection for one-shot calls; nil until needed
	conns  map[net.Conn]struct{} // every open connection, to close them all
	wg     sync.WaitGroup        // reader goroutines
}

var _ api.Backend = (*Client)(nil)

// Dial connects to the kuguri up serving the socket at path. When nothing
// serves it (no file, or a file nobody listens on) the error wraps
// ErrNotRunning and reads "no kuguri up is running (socket PATH)".
func Dial(ctx context.Context, path string) (*Client, error) {
	c := &Client{path: path, conns: make(map[net.Conn]struct{})}
	if _, _, err := c.sharedConn(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Path returns the socket path the client dials.
func (c *Client) Path() string { return c.path }

// Close closes every connection of c, which ends its watches, and waits for
// its goroutines. Calls after Close fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	for nc := range c.conns {
		nc.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// dial opens one connection to the server and registers it.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("control socket %s: %w", c.path, net.ErrClosed)
	}
	if _, err := os.Stat(c.path); errors.Is(err, fs.ErrNotExist) {
		return nil, c.notRunning()
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		if isConnRefused(err) || errors.Is(err, fs.ErrNotExist) {
			return nil, c.notRunning()
		}
		return nil, fmt.Errorf("control socket %s: %w", c.path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		nc.Close()
		return nil, fmt.Errorf("control socket %s: %w", c.path, net.ErrClosed)
	}
	c.conns[nc] = struct{}{}
	return nc, nil
}

func (c *Client) notRunning() error {
	return fmt.Errorf("%w (socket %s)", ErrNotRunning, c.path)
}

func (c *Client) forget(nc net.Conn) {
	nc.Close()
	c.mu.Lock()
	delete(c.conns, nc)
	c.mu.Unlock()
}

// clientConn is the shared connection: nc and done are set at
// construction; pending and err are guarded by mu; wmu serializes writes.
type clientConn struct {
	nc   net.Conn
	done chan struct{} // closed when the reader ends
	wmu  sync.Mutex

	mu      sync.Mutex
	pending map[uint64]chan Response
	err     error // why the connection ended
	lost    bool  // it ended without the server saying why
}

// sharedConn returns the live shared connection, dialling when there is
// none; fresh reports a connection dialled by this call.
func (c *Client) sharedConn(ctx context.Context) (cc *clientConn, fresh bool, err error) {
	c.mu.Lock()
	if cc := c.shared; cc != nil {
		select {
		case <-cc.done:
		default:
			c.mu.Unlock()
			return cc, false, nil
		}
	}
	c.mu.Unlock()

	nc, err := c.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	cc = &clientConn{nc: nc, done: make(chan struct{}), pending: make(map[uint64]chan Response)}
	c.mu.Lock()
	if old := c.shared; old != nil {
		select {
		case <-old.done:
		default:
			// Another call dialled meanwhile: use its connection.
			c.mu.Unlock()
			c.forget(nc)
			return old, true, nil
		}
	}
	c.shared = cc
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.readShared(cc)
	}()
	return cc, true, nil
}

// readShared delivers answers on cc to their callers until cc ends.
func (c *Client) readShared(cc *clientConn) {
	sc := bufio.NewScanner(cc.nc)
	sc.Buffer(make([]byte, 0, 64<<10), maxResponseLine)
	var end error
	lost := false
	for sc.Scan() {
		var r Response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			end = fmt.Errorf("control socket %s: unreadable answer: %w", c.path, err)
			break
		}
		if r.ID == 0 {
			end = fmt.Errorf("control socket %s: the server closed the connection: %w", c.path, responseError(r))
			break
		}
		cc.mu.Lock()
		ch := cc.pending[r.ID]
		delete(cc.pending, r.ID)
		cc.mu.Unlock()
		if ch != nil {
			ch <- r // buffered: never blocks
		}
	}
	if end == nil {
		err := sc.Err()
		if err == nil {
			err = errors.New("EOF")
		}
		end = fmt.Errorf("control socket %s: connection lost: %w", c.path, err)
		lost = true
	}
	cc.mu.Lock()
	cc.err = end
	cc.lost = lost
	cc.pending = nil
	cc.mu.Unlock()
	close(cc.done)
	c.forget(cc.nc)
}

// call sends a request on the shared connection and waits for its answer.
// A failed answer comes back as its typed error. When a connection that
// served earlier calls turns out to be gone (the server restarted), call
// dials again once: every op is idempotent (api.Backend says so of Start
// and Stop; a second Reconnect merely redials again).
func (c *Client) call(ctx context.Context, op Op, names []string) (Response, error) {
	for attempt := 0; ; attempt++ {
		cc, fresh, err := c.sharedConn(ctx)
		if err != nil {
			return Response{}, err
		}
		r, lost, err := c.callOn(ctx, cc, op, names)
		if lost && !fresh && attempt == 0 && ctx.Err() == nil {
			continue
		}
		return r, err
	}
}

// callOn makes one request on cc. lost reports that cc ended without
// answering and without the server saying why.
func (c *Client) callOn(ctx context.Context, cc *clientConn, op Op, names []string) (r Response, lost bool, err error) {
	req := Request{ID: c.nextID.Add(1), Op: op, Names: names}
	line, err := encodeLine(req)
	if err != nil {
		return Response{}, false, err
	}
	ch := make(chan Response, 1)
	cc.mu.Lock()
	if cc.pending == nil {
		defer cc.mu.Unlock()
		return Response{}, cc.lost, cc.err
	}
	cc.pending[req.ID] = ch
	cc.mu.Unlock()

	cc.wmu.Lock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(clientWriteTimeout)
	}
	cc.nc.SetWriteDeadline(deadline)
	_, werr := cc.nc.Write(line)
	cc.wmu.Unlock()
	if werr != nil {
		// The server may have closed the connection saying why (a refused
		// peer): prefer its words, which the reader is about to get.
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-cc.done:
			cc.mu.Lock()
			defer cc.mu.Unlock()
			return Response{}, cc.lost, cc.err
		case <-t.C:
		}
		// A partial line would garble the stream: give the connection up.
		cc.nc.Close()
		return Response{}, false, fmt.Errorf("control socket %s: sending %s: %w", c.path, op, werr)
	}

	answer := func(r Response) (Response, bool, error) {
		if !r.OK {
			return r, false, responseError(r)
		}
		return r, false, nil
	}
	select {
	case r := <-ch:
		return answer(r)
	case <-cc.done:
		// The reader may have delivered the answer just before ending.
		select {
		case r := <-ch:
			return answer(r)
		default:
		}
		cc.mu.Lock()
		defer cc.mu.Unlock()
		return Response{}, cc.lost, cc.err
	case <-ctx.Done():
		cc.mu.Lock()
		if cc.pending != nil {
			delete(cc.pending, req.ID)
		}
		cc.mu.Unlock()
		return Response{}, false, ctx.Err()
	}
}

// Hello asks the server for its version and pid.
func (c *Client) Hello(ctx context.Context) (Hello, error) {
	r, err := c.call(ctx, OpHello, nil)
	if err != nil {
		return Hello{}, err
	}
	if r.Hello == nil {
		return Hello{}, fmt.Errorf("control socket %s: hello answer without hello", c.path)
	}
	return *r.Hello, nil
}

// Snapshot implements api.Backend.
func (c *Client) Snapshot(ctx context.Context) (api.Snapshot, error) {
	r, err := c.call(ctx, OpSnapshot, nil)
	if err != nil {
		return api.Snapshot{}, err
	}
	if r.Snapshot == nil {
		return api.Snapshot{}, fmt.Errorf("control socket %s: snapshot answer without snapshot", c.path)
	}
	return *r.Snapshot, nil
}

// Start implements api.Backend.
func (c *Client) Start(ctx context.Context, names ...string) error {
	_, err := c.call(ctx, OpStart, names)
	return err
}

// Stop implements api.Backend.
func (c *Client) Stop(ctx context.Context, names ...string) error {
	_, err := c.call(ctx, OpStop, names)
	return err
}

// Reconnect implements api.Backend.
func (c *Client) Reconnect(ctx context.Context, names ...string) error {
	_, err := c.call(ctx, OpReconnect, names)
	return err
}

// Watch implements api.Backend on a connection of its own. The first
// snapshot is the full state; later ones replace an unread one (latest
// wins). The channel is closed when ctx ends, the server ends the watch or
// goes away, or c is closed.
func (c *Client) Watch(ctx context.Context) (<-chan api.Snapshot, error) {
	nc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	fail := func(err error) (<-chan api.Snapshot, error) {
		stop()
		c.forget(nc)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}

	line, err := encodeLine(Request{ID: 1, Op: OpWatch})
	if err != nil {
		return fail(err)
	}
	nc.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
	if _, err := nc.Write(line); err != nil {
		return fail(fmt.Errorf("control socket %s: sending watch: %w", c.path, err))
	}
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 0, 64<<10), maxResponseLine)
	next := func() (Response, error) {
		if !sc.Scan() {
			err := sc.Err()
			if err == nil {
				err = errors.New("EOF")
			}
			return Response{}, fmt.Errorf("control socket %s: watch: connection lost: %w", c.path, err)
		}
		var r Response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return Response{}, fmt.Errorf("control socket %s: watch: unreadable answer: %w", c.path, err)
		}
		if !r.OK {
			return r, responseError(r)
		}
		return r, nil
	}

	first, err := next()
	if err != nil {
		return fail(err)
	}
	out := make(chan api.Snapshot, 1)
	if first.Done {
		stop()
		c.forget(nc)
		close(out)
		return out, nil
	}
	if first.Snapshot == nil {
		return fail(fmt.Errorf("control socket %s: watch: first answer without snapshot", c.path))
	}
	out <- *first.Snapshot

	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(out)
		defer c.forget(nc)
		defer stop()
		for {
			r, err := next()
			if err != nil || r.Done || r.Snapshot == nil {
				return
			}
			// Latest wins: replace an unread snapshot. This goroutine is
			// the only sender, so after draining the send cannot block.
			select {
			case out <- *r.Snapshot:
			default:
				select {
				case <-out:
				default:
				}
				out <- *r.Snapshot
			}
		}
	}()
	return out, nil
}
