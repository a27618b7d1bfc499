package tunnel

import (
	"io"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
)

// copyBufSize is the per-direction buffer of a bridged connection. x/crypto
// sends at most 32 KiB per packet; a larger read from TCP lets it fill
// packets back to back.
const copyBufSize = 64 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

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

// copyCount copies src to dst with a pooled buffer, adding each write to n.
func copyCount(dst io.Writer, src io.Reader, n *atomic.Uint64) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			if nw > 0 {
				n.Add(uint64(nw))
			}
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
	}
}

// bridge copies between a client-side conn and a channel until both
// directions are done, half-closing each side as its peer finishes. It
// returns when everything is closed. reqs is the channel's request stream:
// it ends when the peer closes the channel or the link dies, which also ends
// the bridge.
func bridge(conn net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request, st *fwdStats) {
	peerGone := make(chan struct{})
	go func() {
		ssh.DiscardRequests(reqs)
		close(peerGone)
	}()
	upDone := make(chan error, 1)
	go func() {
		err := copyCount(ch, conn, &st.bytesOut)
		if err == nil {
			ch.CloseWrite()
		} else {
			ch.Close()
			conn.Close()
		}
		upDone <- err
	}()
	err := copyCount(conn, ch, &st.bytesIn)
	if err == nil {
		if cw, ok := conn.(closeWriter); ok {
			cw.CloseWrite()
		} else {
			conn.Close()
		}
		select {
		case <-upDone:
		case <-peerGone:
			// The channel is closed (by the peer or with the link): nothing
			// more can be sent, so stop reading the client.
			conn.Close()
			<-upDone
		}
	} else {
		ch.Close()
		conn.Close()
		<-upDone
	}
	ch.Close()
	conn.Close()
	// The request drainer ends when the peer confirms the close or the link
	// goes down.
}
