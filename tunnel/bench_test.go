package tunnel

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// Benchmarks of the copy path and the dial chain against the in-process
// internal/sshserver, short enough for CI:
//
//	go test ./tunnel -run '^$' -bench 'Copy|Dial' -benchtime 3x
//
// Results are printed, never asserted (a failure means the path broke, not
// that it was slow). The side-by-side comparison with OpenSSH is
// `go run ./bench` (BENCHMARKS.md).
//
// The kuguri binary runs with GOMAXPROCS 1 (cmd/kuguri/procs.go); these
// benchmarks run with the test binary's default. `GOMAXPROCS=1 go test
// -bench ...` measures the shipped setting, with the in-process server and
// target services sharing the engine's one P.

// benchServer is an internal/sshserver on loopback and a hopSetup that
// trusts it and logs in to it.
type benchServer struct {
	srv   *sshserver.Server
	addr  string
	setup *fakeSetup
}

func startBenchServer(tb testing.TB, signer ssh.Signer) *benchServer {
	tb.Helper()
	srv, err := sshserver.New(sshserver.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	return &benchServer{srv: srv, addr: addr, setup: &fakeSetup{keys: map[string]ssh.PublicKey{addr: srv.HostKey()}, signer: signer}}
}

// benchServices are loopback targets: sink counts bytes to EOF and answers
// the count (8 bytes), source sends as many bytes as asked (8 bytes), echo
// echoes.
type benchServices struct{ sink, source, echo string }

func startBenchServices(tb testing.TB) benchServices {
	tb.Helper()
	serve := func(handle func(net.Conn)) string { return sshdtest.Serve(tb, handle) }
	return benchServices{
		sink: serve(func(c net.Conn) {
			n, _ := io.Copy(io.Discard, c)
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(n))
			c.Write(b[:])
		}),
		source: serve(func(c net.Conn) {
			var b [8]byte
			if _, err := io.ReadFull(c, b[:]); err != nil {
				return
			}
			buf := make([]byte, 256<<10)
			for n := int64(binary.BigEndian.Uint64(b[:])); n > 0; {
				m, err := c.Write(buf[:min(int64(len(buf)), n)])
				n -= int64(m)
				if err != nil {
					return
				}
			}
		}),
		echo: serve(func(c net.Conn) { io.Copy(c, c) }),
	}
}

// benchForwards runs a Manager with one profile forwarding to svc through
// bs, and returns the listen addresses: sink, source, echo.
func benchForwards(tb testing.TB, bs *benchServer, svc benchServices) (sink, source, echo string) {
	tb.Helper()
	r := &profile.Resolved{
		Name:     "bench",
		Hops:     []profile.Hop{hopFor("bench", bs.addr)},
		Settings: profile.Settings{KeepaliveInterval: 15 * time.Second, KeepaliveCountMax: 3, ConnectTimeout: 15 * time.Second, Reconnect: profile.Backoff{Initial: time.Second, Max: time.Minute}},
		Forwards: []profile.Forward{
			{Name: "sink", Type: profile.Local, Local: "127.0.0.1:0", Remote: svc.sink},
			{Name: "source", Type: profile.Local, Local: "127.0.0.1:0", Remote: svc.source},
			{Name: "echo", Type: profile.Local, Local: "127.0.0.1:0", Remote: svc.echo},
		},
	}
	m := NewManager(&profile.Config{Profiles: map[string]*profile.Profile{"bench": {Name: "bench"}}}, Options{
		Version:    "bench",
		Getenv:     os.Getenv,
		setup:      func(string) hopSetup { return bs.setup },
		resolve:    func(*profile.Config, string) (*profile.Resolved, error) { return r, nil },
		noNetwatch: true,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	if err := m.Start(ctx, "bench"); err != nil {
		tb.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	p, err := m.WaitReady(wctx, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	addr := map[string]string{}
	for _, f := range p.Forwards {
		addr[f.Name] = f.Listen
	}
	return addr["sink"], addr["source"], addr["echo"]
}

func newBenchForwards(tb testing.TB) (sink, source, echo string) {
	return benchForwards(tb, startBenchServer(tb, newSigner(tb)), startBenchServices(tb))
}

const benchChunk = 1 << 20

// BenchmarkCopyUp moves 1 MiB per op client→server through one forward
// (one connection for the whole run).
func BenchmarkCopyUp(b *testing.B) {
	sink, _, _ := newBenchForwards(b)
	buf := make([]byte, 256<<10)
	c, err := net.Dial("tcp", sink)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for off := 0; off < benchChunk; off += len(buf) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	c.(*net.TCPConn).CloseWrite()
	var cnt [8]byte
	if _, err := io.ReadFull(c, cnt[:]); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := binary.BigEndian.Uint64(cnt[:]); got != uint64(b.N)*benchChunk {
		b.Fatalf("sink got %d bytes, want %d", got, uint64(b.N)*benchChunk)
	}
}

// BenchmarkCopyDown moves 1 MiB per op server→client through one forward.
func BenchmarkCopyDown(b *testing.B) {
	_, source, _ := newBenchForwards(b)
	c, err := net.Dial("tcp", source)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	want := int64(b.N) * benchChunk
	var sz [8]byte
	binary.BigEndian.PutUint64(sz[:], uint64(want))
	b.SetBytes(benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := c.Write(sz[:]); err != nil {
		b.Fatal(err)
	}
	got, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	b.StopTimer()
	if err != nil || got != want {
		b.Fatalf("got %d of %d bytes: %v", got, want, err)
	}
}

// BenchmarkCopyConnect opens one new connection per op through the
// established link: connect, 1-byte echo, close. Reports p50 and p99.
func BenchmarkCopyConnect(b *testing.B) {
	_, _, echo := newBenchForwards(b)
	ping := func() {
		c, err := net.Dial("tcp", echo)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		var one [1]byte
		if _, err := c.Write([]byte{'x'}); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, one[:]); err != nil {
			b.Fatal(err)
		}
	}
	ping()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		ping()
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkCopyIdleConns holds 200 connections open through a forward,
// each after one 1-byte echo, and reports the Go heap they keep per
// connection. The target is an in-memory echo handed to the in-process
// server by its Dial hook (no socket, no copy buffer), so what is counted
// is the engine's side plus the server's channel state (a few KiB).
func BenchmarkCopyIdleConns(b *testing.B) {
	const n = 200
	signer := newSigner(b)
	srv, err := sshserver.New(sshserver.Config{
		AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()},
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return &memEcho{q: make(chan []byte, 4)}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	bs := &benchServer{srv: srv, addr: ln.Addr().String(), setup: &fakeSetup{keys: map[string]ssh.PublicKey{ln.Addr().String(): srv.HostKey()}, signer: signer}}
	_, _, echo := benchForwards(b, bs, benchServices{sink: "sink.invalid:9", source: "source.invalid:19", echo: "echo.invalid:7"})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var perConn float64
	b.ResetTimer()
	for range b.N {
		before := heap()
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", echo)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			var one [1]byte
			if _, err := c.Write([]byte{'x'}); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, one[:]); err != nil {
				b.Fatal(err)
			}
		}
		perConn = max(perConn, (float64(heap())-float64(before))/n)
		for _, c := range conns {
			c.Close()
		}
	}
	b.StopTimer()
	b.ReportMetric(perConn, "heap-B/conn")
}

// memEcho is an echo target without a socket: the server's pipe writes to
// it (the channel's WriteTo calls Write) and copies from it (through its
// WriteTo); the data moves through a channel with a small buffer.
type memEcho struct {
	q    chan []byte
	once sync.Once
}

func (e *memEcho) Write(p []byte) (int, error) {
	e.q <- slices.Clone(p)
	return len(p), nil
}

// CloseWrite is the end of what the client sent: the echo ends too.
func (e *memEcho) CloseWrite() error {
	e.once.Do(func() { close(e.q) })
	return nil
}

func (e *memEcho) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for p := range e.q {
		m, err := w.Write(p)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (e *memEcho) Read([]byte) (int, error)         { return 0, io.EOF }
func (e *memEcho) Close() error                     { return nil }
func (e *memEcho) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (e *memEcho) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (e *memEcho) SetDeadline(time.Time) error      { return nil }
func (e *memEcho) SetReadDeadline(time.Time) error  { return nil }
func (e *memEcho) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkDialOneHop dials and logs in to one hop per op.
func BenchmarkDialOneHop(b *testing.B) {
	bs := startBenchServer(b, newSigner(b))
	benchDial(b, bs.setup, hopFor("one", bs.addr))
}

// BenchmarkDialTwoHops dials a two-hop chain per op: the second hop through
// a direct-tcpip channel of the first.
func BenchmarkDialTwoHops(b *testing.B) {
	signer := newSigner(b)
	b1, b2 := startBenchServer(b, signer), startBenchServer(b, signer)
	setup := &fakeSetup{keys: map[string]ssh.PublicKey{b1.addr: b1.srv.HostKey(), b2.addr: b2.srv.HostKey()}, signer: signer}
	benchDial(b, setup, hopFor("bastion", b1.addr), hopFor("target", b2.addr))
}

func benchDial(b *testing.B, setup hopSetup, hops ...profile.Hop) {
	d := &dialer{version: "bench", setup: setup, prompter: api.Headless{}, logger: slog.New(slog.DiscardHandler)}
	r := &profile.Resolved{Name: "bench", Hops: hops, Settings: profile.Settings{ConnectTimeout: 15 * time.Second, KeepaliveInterval: 15 * time.Second, KeepaliveCountMax: 3}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, err := d.dial(ctx, r, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
