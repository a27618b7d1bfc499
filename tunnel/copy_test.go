package tunnel

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// socketPair returns both ends of a connected TCP (or Unix) socket on
// loopback.
func socketPair(t *testing.T, network string) (net.Conn, net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	c, s := socketPair(t, "tcp")
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestCopyCountSocket copies from a TCP socket (the readiness path on Unix)
// data written in uneven bursts with pauses, and checks every byte and the
// counter.
func TestCopyCountSocket(t *testing.T) {
	c, s := tcpPair(t)
	want := make([]byte, 3<<20+12345)
	rand.Read(want)
	go func() {
		for off, i := 0, 0; off < len(want); i++ {
			n := min(len(want)-off, []int{1, 100, 32 << 10, 70000, 5}[i%5])
			c.Write(want[off : off+n])
			off += n
			if i%7 == 0 {
				time.Sleep(time.Millisecond) // let the reader find the socket empty
			}
		}
		c.CloseWrite()
	}()
	var got bytes.Buffer
	var n atomic.Uint64
	if err := copyCount(&got, s, &n); err != nil {
		t.Fatalf("copyCount: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("copied %d bytes, not the %d written (or not the same)", got.Len(), len(want))
	}
	if n.Load() != uint64(len(want)) {
		t.Fatalf("counter = %d, want %d", n.Load(), len(want))
	}
}

// TestCopyCountSocketClosed: closing the source socket from elsewhere ends
// a copy that waits for data, with an error.
func TestCopyCountSocketClosed(t *testing.T) {
	c, s := tcpPair(t)
	done := make(chan error, 1)
	first := make(chan struct{})
	var n atomic.Uint64
	go func() { done <- copyCount(&signalWriter{first: first}, s, &n) }()
	c.Write([]byte{1})
	<-first // the copy loop runs; its next read waits for data
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("copy from a closed socket ended without error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("copy did not end when its socket was closed")
	}
}

// sizeReader serves data in chunks of at most the given sizes, recording the
// size of each buffer it is handed.
type sizeReader struct {
	chunks []int
	asked  []int
}

func (r *sizeReader) Read(p []byte) (int, error) {
	r.asked = append(r.asked, len(p))
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunks[0])
	r.chunks[0] -= n
	if r.chunks[0] == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// TestCopyAdaptiveBuffers: a quiet source is read with the small buffer; a
// read that fills it switches to the pooled one, which stays while reads
// bring at least drainShort, and a smaller read switches back.
func TestCopyAdaptiveBuffers(t *testing.T) {
	s, b := idleBufSize, drainBufSize
	r := &sizeReader{chunks: []int{10, s + 2*b + 3*drainShort, drainShort, 100, 7}}
	total := 10 + s + 2*b + 3*drainShort + drainShort + 100 + 7
	var got bytes.Buffer
	var n atomic.Uint64
	if err := copyCount(&got, r, &n); err != nil {
		t.Fatal(err)
	}
	if got.Len() != total || n.Load() != uint64(total) {
		t.Fatalf("copied %d (counted %d), want %d", got.Len(), n.Load(), total)
	}
	want := []int{
		s,    // 10 bytes: short
		s,    // full small buffer: switch
		b, b, // two full pooled reads
		b, // 3*drainShort bytes: stay
		b, // drainShort bytes: stay
		b, // 100 bytes: switch back
		s, // 7 bytes
		s, // EOF
	}
	if len(r.asked) != len(want) {
		t.Fatalf("buffer sizes asked %v, want %v", r.asked, want)
	}
	for i := range want {
		if r.asked[i] != want[i] {
			t.Fatalf("buffer sizes asked %v, want %v", r.asked, want)
		}
	}
}

// signalWriter closes first on its first write.
type signalWriter struct {
	first chan struct{}
	seen  bool
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if !w.seen {
		w.seen = true
		close(w.first)
	}
	return len(p), nil
}

// writerToChannel is an SSH channel whose data comes out through WriteTo,
// as the channels of the x/crypto kuguri carries do; Read must not be used.
type writerToChannel struct {
	ssh.Channel // for the type only: no other method is called
	chunks      [][]byte
	reads       int
}

func (c *writerToChannel) Read(p []byte) (int, error) {
	c.reads++
	return 0, errors.New("Read called on a channel that has WriteTo")
}

func (c *writerToChannel) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, b := range c.chunks {
		nw, err := w.Write(b)
		n += int64(nw)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestCopyCountChannelWriteTo: a channel is copied through its WriteTo,
// every byte counted, and never through Read.
func TestCopyCountChannelWriteTo(t *testing.T) {
	ch := &writerToChannel{chunks: [][]byte{[]byte("hello, "), bytes.Repeat([]byte{7}, 40000), []byte("end")}}
	var want []byte
	for _, b := range ch.chunks {
		want = append(want, b...)
	}
	var got bytes.Buffer
	var n atomic.Uint64
	if err := copyCount(&got, ch, &n); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) || n.Load() != uint64(len(want)) {
		t.Fatalf("copied %d bytes (counted %d), want %d", got.Len(), n.Load(), len(want))
	}
	if ch.reads != 0 {
		t.Fatalf("Read called %d times; want WriteTo only", ch.reads)
	}
}

// readerFromChannel is an SSH channel that takes data through ReadFrom, as
// the channels of the x/crypto kuguri carries do; Write must not be used.
// Its ReadFrom waits (WaitRead) before every read, as the real one does
// after a short read.
type readerFromChannel struct {
	ssh.Channel // for the type only: no other method is called
	got         bytes.Buffer
	writes      int
	waits       int
	noWaiter    bool
}

func (c *readerFromChannel) Write(p []byte) (int, error) {
	c.writes++
	return 0, errors.New("Write called on a channel that has ReadFrom")
}

func (c *readerFromChannel) ReadFrom(r io.Reader) (int64, error) {
	wr, ok := r.(interface{ WaitRead() error })
	if !ok {
		c.noWaiter = true
	}
	buf := make([]byte, 32<<10)
	var n int64
	for {
		if ok {
			if err := wr.WaitRead(); err != nil {
				return n, err
			}
			c.waits++
		}
		k, err := r.Read(buf)
		c.got.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// TestCopyCountChannelReadFrom: a socket is copied into a channel through
// the channel's ReadFrom, every byte counted, never through Write; the
// reader it is handed can wait for the socket without reading it, through
// a quiet spell and at the end of the stream.
func TestCopyCountChannelReadFrom(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			client, server := socketPair(t, network)
			want := append([]byte("hello"), bytes.Repeat([]byte{9}, 100000)...)
			go func() {
				client.Write(want[:5])
				time.Sleep(50 * time.Millisecond) // quiet: WaitRead must wait
				client.Write(want[5:])
				client.Close()
			}()
			ch := &readerFromChannel{}
			var n atomic.Uint64
			if err := copyCount(ch, server, &n); err != nil {
				t.Fatal(err)
			}
			if ch.writes != 0 || ch.noWaiter {
				t.Fatalf("Write called %d times, reader without WaitRead: %v; want ReadFrom with WaitRead", ch.writes, ch.noWaiter)
			}
			if !bytes.Equal(ch.got.Bytes(), want) || n.Load() != uint64(len(want)) {
				t.Fatalf("copied %d bytes (counted %d), want %d", ch.got.Len(), n.Load(), len(want))
			}
			if ch.waits < 3 {
				t.Fatalf("%d WaitReads, want one per read (at least 3: hello, the rest, the end)", ch.waits)
			}
		})
	}
}
