package main

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel"
)

// Micro-benchmarks of the engine's copy path as reachable from outside
// tunnel: a Manager with an in-memory profile, one local forward per
// target, against the in-process internal/sshserver or a real sshd. Results
// are printed, never asserted. Profile with
//
//	go test ./bench -run '^$' -bench ForwardThroughput/sshd -cpuprofile cpu.out -memprofile mem.out

// microFixture is a running Manager with forwards to a sink, a source and
// an echo service.
type microFixture struct {
	sink, source, echo string // kuguri's listen addresses
}

func newMicroFixture(tb testing.TB, server string) *microFixture {
	tb.Helper()
	dir := tb.TempDir()
	signer, keyPath := sshdtest.NewKey(tb, dir, "id_ed25519", "")
	var addr, user, khLine string
	switch server {
	case "sshd":
		srv := sshdtest.Start(tb, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
		addr, user, khLine = srv.Addr, srv.User, srv.KnownHostsLine()
	default:
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
		addr, user = ln.Addr().String(), "bench"
		khLine = knownhosts.Line([]string{knownhosts.Normalize(addr)}, srv.HostKey())
	}
	kh := filepath.Join(dir, "known_hosts")
	sshdtest.WriteKnownHosts(tb, kh, khLine)
	sink := sshdtest.Serve(tb, sinkConn)
	source := sshdtest.Serve(tb, sourceConn)
	echo := sshdtest.EchoServer(tb)

	host, ps, _ := net.SplitHostPort(addr)
	port, _ := net.LookupPort("tcp", ps)
	settings := profile.Settings{
		KeepaliveInterval: 15 * time.Second,
		KeepaliveCountMax: 3,
		ConnectTimeout:    15 * time.Second,
		Reconnect:         profile.Backoff{Initial: time.Second, Max: time.Minute},
		IdleTimeout:       10 * time.Minute,
	}
	cfg := &profile.Config{
		Defaults: settings,
		Profiles: map[string]*profile.Profile{"micro": {
			Name: "micro", Host: host, Port: port, User: user,
			IdentityFiles: []string{keyPath}, KnownHosts: kh, Settings: settings,
			Forwards: []profile.Forward{
				{Name: "sink", Type: profile.Local, Local: "127.0.0.1:0", Remote: sink},
				{Name: "source", Type: profile.Local, Local: "127.0.0.1:0", Remote: source},
				{Name: "echo", Type: profile.Local, Local: "127.0.0.1:0", Remote: echo},
			},
		}},
	}
	m := tunnel.NewManager(cfg, tunnel.Options{Version: "bench", Getenv: func(string) string { return "" }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	if err := m.Start(ctx, "micro"); err != nil {
		tb.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	p, err := m.WaitReady(wctx, "micro")
	if err != nil {
		tb.Fatal(err)
	}
	fx := &microFixture{}
	for _, f := range p.Forwards {
		switch f.Name {
		case "sink":
			fx.sink = f.Listen
		case "source":
			fx.source = f.Listen
		case "echo":
			fx.echo = f.Listen
		}
	}
	return fx
}

var microServers = []string{"sshserver", "sshd"}

const microChunk = 1 << 20

// BenchmarkForwardThroughput moves 1 MiB per op through one forward:
// up = client→server (to a sink), down = server→client (from a source).
func BenchmarkForwardThroughput(b *testing.B) {
	for _, server := range microServers {
		b.Run(server, func(b *testing.B) {
			fx := newMicroFixture(b, server)
			buf := randomBytes(ioBufSize)
			b.Run("up", func(b *testing.B) {
				b.SetBytes(microChunk)
				c, err := net.Dial("tcp", fx.sink)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for off := 0; off < microChunk; off += len(buf) {
						if _, err := c.Write(buf[:min(len(buf), microChunk-off)]); err != nil {
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
				if got := binary.BigEndian.Uint64(cnt[:]); got != uint64(b.N)*microChunk {
					b.Fatalf("sink got %d bytes, want %d", got, uint64(b.N)*microChunk)
				}
			})
			b.Run("down", func(b *testing.B) {
				b.SetBytes(microChunk)
				b.ResetTimer()
				if _, err := recvBytes(fx.source, int64(b.N)*microChunk, make([]byte, ioBufSize)); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkForwardConnect opens one new connection per op through the
// established tunnel: connect, 1-byte echo, close.
func BenchmarkForwardConnect(b *testing.B) {
	for _, server := range microServers {
		b.Run(server, func(b *testing.B) {
			fx := newMicroFixture(b, server)
			if err := pingOnce(fx.echo, 10*time.Second); err != nil {
				b.Fatal(err)
			}
			lat := make([]float64, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := pingOnce(fx.echo, 10*time.Second); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, float64(time.Since(t0).Microseconds()))
			}
			b.StopTimer()
			b.ReportMetric(percentile(lat, 50), "p50-µs")
			b.ReportMetric(percentile(lat, 99), "p99-µs")
		})
	}
}

// BenchmarkForwardConcurrent runs 500 simultaneous 16 KiB echoes through the
// tunnel per op and reports the heap in use at the end of each op's load
// (the Go side of the harness's peak-RSS measure).
func BenchmarkForwardConcurrent(b *testing.B) {
	for _, server := range microServers {
		b.Run(server, func(b *testing.B) {
			fx := newMicroFixture(b, server)
			payload := randomBytes(16 << 10)
			var peak uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ok, _, err := concurrentEcho(fx.echo, 500, payload)
				if ok != 500 {
					b.Fatalf("%d/500 completed: %v", ok, err)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapSys-ms.HeapReleased)
			}
			b.StopTimer()
			b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
		})
	}
}
