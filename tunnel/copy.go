package tunnel

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// copyBufSize is the buffer a bridged connection borrows from the pool for
// one read from a socket and the write that passes it on. 32 KiB is the
// largest data payload x/crypto/ssh puts in one channel packet (and asks the
// server to send): a full read from the client becomes exactly one SSH
// packet.
const copyBufSize = 32 << 10

// drainBufSize is the pooled buffer for reading a busy source that cannot
// say when it is readable (a socket outside Unix, or a channel without
// WriteTo): one read takes what is queued (up to two full SSH packets) and
// one write passes it on. Larger sizes measured no better.
const drainBufSize = 64 << 10

// drainShort is a read small enough to go back to the idle buffer: less
// than half a full packet means the sender is no longer streaming full
// packets.
const drainShort = 16 << 10

// idleBufSize is the buffer a connection keeps for itself to wait on a
// source that cannot say when it is readable: an idle connection holds
// this much, not drainBufSize.
const idleBufSize = 2 << 10

var (
	copyBufs  = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
	drainBufs = sync.Pool{New: func() any { b := make([]byte, drainBufSize); return &b }}
)

type closeWriter interface{ CloseWrite() error }

// fwdStats are one forward's counters, updated with atomics only.
type fwdStats struct {
	active   atomic.Int64
	total    atomic.Uint64
	bytesIn  atomic.Uint64 // from the tunnel toward the client side
	bytesOut atomic.Uint64 // from the client side into the tunnel
	lastErr  atomic.Pointer[string]
}

func (s *fwdStats) setErr(err error) {
	if err == nil {
		s.lastErr.Store(nil)
		return
	}
	m := err.Error()
	s.lastErr.Store(&m)
}

func (s *fwdStats) errText() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// copyCount copies src to dst until src ends, adding each write to n. A
// pooled buffer is held only while data moves: a TCP or Unix socket source
// (on Unix) is read by an SSH channel straight into the packet it sends
// (ReadFrom), or, for any other dst, into a buffer taken once the socket is
// readable; an SSH channel writes its received packets to dst itself
// (WriteTo); any other source is read into a small buffer of the
// connection's own while it is quiet, and into a pooled one while it
// streams.
func copyCount(dst io.Writer, src io.Reader, n *atomic.Uint64) error {
	if rc := rawReadable(src); rc != nil {
		if ch, ok := dst.(interface {
			ssh.Channel
			io.ReaderFrom
		}); ok {
			_, err := ch.ReadFrom(&sockReader{r: rawSocketConn(src.(net.Conn)), rc: rc, n: n})
			return err
		}
		return copyRaw(dst, rc, n)
	}
	if c, ok := dst.(net.Conn); ok {
		dst = rawSocketConn(c)
	}
	if ch, ok := src.(interface {
		ssh.Channel
		io.WriterTo
	}); ok {
		_, err := ch.WriteTo(&countWriter{w: dst, n: n})
		return err
	}
	return copyAdaptive(dst, src, n)
}

// countWriter counts what goes through it. An SSH channel's WriteTo (the
// x/crypto kuguri carries, third_party/README.md) hands it the received
// packets themselves: the channel's data reaches the client's socket with
// no copy of ours, and no buffer is held while the channel is quiet.
type countWriter struct {
	w io.Writer
	n *atomic.Uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	nw, err := c.w.Write(p)
	addCount(c.n, nw)
	return nw, err
}

// addCount adds k bytes moved, if any, to n.
func addCount(n *atomic.Uint64, k int) {
	if k > 0 {
		n.Add(uint64(k))
	}
}

// sockReader is a client's socket read by an SSH channel's ReadFrom (the
// x/crypto kuguri carries, third_party/README.md): the channel reads
// straight into the packet it sends, counted here, and waits in WaitRead
// while the client is quiet, holding no buffer.
type sockReader struct {
	r  io.Reader // the socket (raw on Linux: rawSocketConn)
	rc syscall.RawConn
	n  *atomic.Uint64
}

func (s *sockReader) Read(p []byte) (int, error) {
	k, err := s.r.Read(p)
	addCount(s.n, k)
	return k, err
}

func (s *sockReader) WaitRead() error { return waitReadable(s.rc) }

// copyRaw copies from a raw socket: each read borrows a pooled buffer once
// the socket has data (see readBorrowed) and returns it after the write.
func copyRaw(dst io.Writer, rc syscall.RawConn, n *atomic.Uint64) error {
	for {
		bp, nr, rerr := readBorrowed(rc)
		if nr > 0 {
			werr := writeAll(dst, (*bp)[:nr], n)
			copyBufs.Put(bp)
			if werr != nil {
				return werr
			}
		} else if bp != nil {
			copyBufs.Put(bp)
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
	}
}

// copyAdaptive copies from a reader that blocks until it has data: it reads
// into the connection's own idleBufSize buffer, switches to a pooled
// drainBufSize one after a read fills the small one (more is likely
// queued), and back after a read shorter than drainShort (the source is
// drained and sends small pieces, so the next read may wait long). A stream
// of full packets stays on the pooled buffer even when each read drains the
// queue: switching back then would split every packet into a small write
// and a large one (and double x/crypto's window adjustments).
func copyAdaptive(dst io.Writer, src io.Reader, n *atomic.Uint64) error {
	small := make([]byte, idleBufSize)
	var bp *[]byte
	defer func() {
		if bp != nil {
			drainBufs.Put(bp)
		}
	}()
	for {
		buf := small
		if bp != nil {
			buf = *bp
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			if err := writeAll(dst, buf[:nr], n); err != nil {
				return err
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
		switch {
		case bp == nil && nr == len(small):
			bp = drainBufs.Get().(*[]byte)
		case bp != nil && nr < drainShort:
			drainBufs.Put(bp)
			bp = nil
		}
	}
}

func writeAll(dst io.Writer, p []byte, n *atomic.Uint64) error {
	nw, err := dst.Write(p)
	addCount(n, nw)
	if err != nil {
		return err
	}
	if nw != len(p) {
		return io.ErrShortWrite
	}
	return nil
}

// bridge copies between a client-side conn and a channel until both
// directions are done, half-closing each side as its peer finishes. It
// returns when everything is closed. reqs is the channel's request stream:
// it ends when the peer closes the channel or the link dies, which also ends
// the bridge.
//
// The client's side goes up on the calling goroutine: right after the
// channel opens it sends what the client already wrote, from a stack that
// opening the channel has grown, while a new goroutine takes the way down.
func bridge(conn net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request, st *fwdStats) {
	peerGone := make(chan struct{})
	go func() {
		ssh.DiscardRequests(reqs)
		close(peerGone)
	}()
	upEnded := make(chan struct{})
	downDone := make(chan struct{})
	go func() {
		defer close(downDone)
		if err := copyCount(conn, ch, &st.bytesIn); err != nil {
			ch.Close()
			conn.Close()
			return
		}
		closeWrite(conn)
		select {
		case <-upEnded:
		case <-peerGone:
			// The channel is closed (by the peer or with the link): nothing
			// more can be sent, so stop reading the client.
			conn.Close()
		}
	}()
	if err := copyCount(ch, conn, &st.bytesOut); err == nil {
		ch.CloseWrite()
	} else {
		ch.Close()
		conn.Close()
	}
	close(upEnded)
	<-downDone
	ch.Close()
	conn.Close()
	// The request drainer ends when the peer confirms the close or the link
	// goes down.
}
