package sshserver

import (
	"net"
	"sync"
)

// gate blocks I/O while the server is paused.
type gate struct {
	mu     sync.Mutex
	paused chan struct{} // nil when open; closed to release waiters
}

func (g *gate) set(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case on && g.paused == nil:
		g.paused = make(chan struct{})
	case !on && g.paused != nil:
		close(g.paused)
		g.paused = nil
	}
}

func (g *gate) isPaused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused != nil
}

// wait returns nil once the gate is open, or net.ErrClosed if done closes
// first.
func (g *gate) wait(done <-chan struct{}) error {
	for {
		g.mu.Lock()
		ch := g.paused
		g.mu.Unlock()
		if ch == nil {
			select {
			case <-done:
				return net.ErrClosed
			default:
				return nil
			}
		}
		select {
		case <-ch:
		case <-done:
			return net.ErrClosed
		}
	}
}

// gatedConn is a net.Conn whose Read and Write stall while the gate is
// closed: bytes that arrive during a pause are held back, and nothing is
// sent, so the peer sees a silent black hole rather than a closed socket.
type gatedConn struct {
	net.Conn
	gate *gate
	once sync.Once
	done chan struct{}
}

func newGatedConn(c net.Conn, g *gate) *gatedConn {
	return &gatedConn{Conn: c, gate: g, done: make(chan struct{})}
}

func (c *gatedConn) Read(p []byte) (int, error) {
	if err := c.gate.wait(c.done); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	// Data read just as a pause began is held until it ends.
	if werr := c.gate.wait(c.done); werr != nil {
		return 0, werr
	}
	return n, err
}

func (c *gatedConn) Write(p []byte) (int, error) {
	if err := c.gate.wait(c.done); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *gatedConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

// abort closes the connection with a TCP reset where possible.
func (c *gatedConn) abort() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
