//go:build linux && !386

package tunnel

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func mustRaw(t *testing.T, c net.Conn) net.Conn {
	t.Helper()
	r := rawSocketConn(c)
	if _, ok := r.(*rawSocket); !ok {
		t.Fatalf("rawSocketConn(%T) = %T, want *rawSocket", c, r)
	}
	return r
}

// TestRawSocketStream moves more data than the socket buffers hold through
// raw writes and raw reads in small pieces, so that both sides meet EAGAIN
// and wait in the poller, and checks every byte.
func TestRawSocketStream(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			a, b := socketPair(t, network)
			w, r := mustRaw(t, a), mustRaw(t, b)
			data := make([]byte, 8<<20)
			rand.Read(data)
			werr := make(chan error, 1)
			go func() {
				// Writes of mixed sizes, some larger than the socket buffer.
				rest := data
				for i := 0; len(rest) > 0; i++ {
					k := min(len(rest), []int{1, 100, 70000, 1 << 20}[i%4])
					n, err := w.Write(rest[:k])
					if err != nil || n != k {
						werr <- errors.Join(err, io.ErrShortWrite)
						return
					}
					rest = rest[k:]
				}
				werr <- a.(closeWriter).CloseWrite()
			}()
			h := sha256.New()
			buf := make([]byte, 3000)
			var got int
			for {
				n, err := r.Read(buf)
				h.Write(buf[:n])
				got += n
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("read after %d bytes: %v", got, err)
				}
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(data)
			if got != len(data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("read %d bytes, want %d, or the data differs", got, len(data))
			}
		})
	}
}

// TestRawSocketDeadlines checks that deadlines still end a raw read that
// waits for data and a raw write that waits for room, and that a write
// reports what it wrote before the deadline.
func TestRawSocketDeadlines(t *testing.T) {
	a, b := socketPair(t, "tcp")
	r := mustRaw(t, b)
	r.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}

	w := mustRaw(t, a) // nobody reads b for now: the buffers fill up
	w.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := w.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if n >= 64<<20 {
		t.Fatalf("write reported all %d bytes written past its deadline", n)
	}
	// What the write reported is exactly what arrives.
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.CopyN(io.Discard, b, int64(n))
	if err != nil || got != int64(n) {
		t.Fatalf("read %d of the %d bytes the write reported: %v", got, n, err)
	}
	b.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if k, err := b.Read(make([]byte, 1)); k != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after the %d bytes reported, the peer read %d more (%v)", n, k, err)
	}
}

// TestRawSocketCloseAndEOF checks the end of a stream, a Close while a read
// waits, and a write to a peer that is gone (an error, not a SIGPIPE that
// would kill the test binary).
func TestRawSocketCloseAndEOF(t *testing.T) {
	a, b := socketPair(t, "tcp")
	r := mustRaw(t, b)
	a.Write([]byte("hi"))
	a.Close()
	buf := make([]byte, 10)
	if n, err := r.Read(buf); n != 2 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	if _, err := r.Read(buf); err != io.EOF {
		t.Fatalf("read at the end: %v, want io.EOF", err)
	}
	// The peer has closed: writes fail with EPIPE or ECONNRESET once the
	// RST is back.
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		_, werr = r.Write(make([]byte, 1024))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, syscall.ECONNRESET) {
		t.Errorf("write to a closed peer: %v, want EPIPE or ECONNRESET", werr)
	}

	c, d := socketPair(t, "tcp")
	_ = c
	rd := mustRaw(t, d)
	done := make(chan error, 1)
	go func() {
		_, err := rd.Read(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	d.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read interrupted by Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting raw read")
	}
}

// TestRawSocketConnOthers: anything but a TCP or Unix socket is left as it
// is, and so is a zero-length read or write.
func TestRawSocketConnOthers(t *testing.T) {
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if got := rawSocketConn(p); got != p {
		t.Errorf("rawSocketConn(net.Pipe) = %T, want the pipe itself", got)
	}
	a, _ := socketPair(t, "tcp")
	r := mustRaw(t, a)
	if n, err := r.Write(nil); n != 0 || err != nil {
		t.Errorf("empty write: %d, %v", n, err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read: %d, %v", n, err)
	}
}
