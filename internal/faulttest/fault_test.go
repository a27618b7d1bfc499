//go:build linux

package faulttest

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kuguri/kuguri/internal/netns"
	"github.com/kuguri/kuguri/tunnel/api"
)

// sshd killed while a transfer runs: the transfer's client sees an error or
// EOF (never a hang), and the forward works again once sshd is back.
func TestSSHDKilledMidTransfer(t *testing.T) {
	forEachRig(t, func(t *testing.T, r *rig) {
		k := r.up(configYAML(r.vps("vps", local("db", r.db.Addr))), "vps")
		db := forward(t, k.profile("vps"), "db").Listen

		c := r.mustDial(db)
		defer c.Close()
		var read atomic.Int64
		writeErr := make(chan error, 1)
		go func() {
			chunk := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
			for {
				if _, err := c.Write(chunk); err != nil {
					writeErr <- err
					return
				}
			}
		}()
		readErr := make(chan error, 1)
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				read.Add(int64(n))
				if err != nil {
					readErr <- err
					return
				}
			}
		}()
		// The read deadline is the hang detector: a read still blocked
		// this long after the kill means the forward never closed.
		const hang = 30 * time.Second
		_ = c.SetReadDeadline(time.Now().Add(hang + 60*time.Second))
		for deadline := time.Now().Add(30 * time.Second); read.Load() < 1<<20; {
			if time.Now().After(deadline) {
				t.Fatalf("only %d bytes echoed in 30s before the kill", read.Load())
			}
			time.Sleep(10 * time.Millisecond) // poll the transfer's progress
		}

		r.sshd.Kill()
		killed := time.Now()
		_ = c.SetReadDeadline(killed.Add(hang))
		err := <-readErr
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the transfer's client still blocked %v after sshd was killed (read %d bytes): the forward hangs", hang, read.Load())
		}
		t.Logf("transfer ended %v after the kill with %v after %d bytes", time.Since(killed).Round(time.Millisecond), err, read.Load())
		c.Close()
		<-writeErr

		k.waitProfile("vps", 20*time.Second, "reconnecting", func(p api.Profile) bool { return p.State == api.Reconnecting })
		r.sshd.Restart()
		p := k.waitProfile("vps", 60*time.Second, "up again", func(p api.Profile) bool { return p.State == api.Up })
		if p.Reconnects < 1 {
			t.Errorf("reconnects %d after sshd restarted, want at least 1", p.Reconnects)
		}
		r.roundTrip(db, strings.Repeat("after the restart ", 1000))
	})
}

// The target service down while SSH is fine: the forward says so in
// last_error, the profile stays up, and the link is not redialled (no
// storm of SSH logins for a problem SSH cannot fix).
func TestTargetServiceDown(t *testing.T) {
	forEachRig(t, func(t *testing.T, r *rig) {
		k := r.up(configYAML(r.vps("vps", local("db", r.db.Addr))), "vps")
		db := forward(t, k.profile("vps"), "db").Listen
		r.roundTrip(db, "db is up")
		logins := countLog(r.sshd, "Accepted publickey")
		if logins != 1 {
			t.Fatalf("sshd logged %d logins after the first connect, want 1", logins)
		}

		r.db.Stop()
		for i := 0; i < 5; i++ {
			c := r.mustDial(db)
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := c.Read(make([]byte, 1))
			c.Close()
			if err == nil {
				t.Fatalf("client %d read %d bytes from a stopped service", i, n)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("client %d was left hanging for 20s with the target down", i)
			}
		}
		p := k.waitProfile("vps", 10*time.Second, "showing the forward's error", func(p api.Profile) bool {
			return forward(t, p, "db").LastError != ""
		})
		t.Logf("forward last_error: %s", forward(t, p, "db").LastError)
		// Watch for a few keepalive periods: nothing about SSH changes.
		for end := time.Now().Add(4 * keepaliveInterval); time.Now().Before(end); {
			p = k.profile("vps")
			if p.State != api.Up || p.Reconnects != 0 {
				t.Fatalf("with only the target down: state %s, reconnects %d (last_error %q); want up, 0", p.State, p.Reconnects, p.LastError)
			}
			time.Sleep(250 * time.Millisecond) // poll interval
		}
		if f := forward(t, p, "db"); f.State != api.Listening {
			t.Errorf("forward state %s with the target down, want listening (the link is fine)", f.State)
		}
		if n := countLog(r.sshd, "Accepted publickey"); n != logins {
			t.Errorf("sshd logged %d logins, want still %d: kuguri redialled for a dead target", n, logins)
		}

		r.db.Start(t)
		r.roundTrip(db, "db is back")
	})
}

// A slowloris client (connects and sends nothing, or one byte a second) on
// a local or a SOCKS forward never blocks other clients of either.
func TestSlowlorisDoesNotBlockOthers(t *testing.T) {
	forEachRig(t, func(t *testing.T, r *rig) {
		k := r.up(configYAML(r.vps("vps",
			local("db", r.db.Addr),
			fwd{Name: "socks", Type: "dynamic", Local: "127.0.0.1:0"},
		)), "vps")
		p := k.profile("vps")
		db, socks := forward(t, p, "db").Listen, forward(t, p, "socks").Listen

		var slow []net.Conn
		defer func() {
			for _, c := range slow {
				c.Close()
			}
		}()
		for i := 0; i < 20; i++ {
			slow = append(slow, r.mustDial(db), r.mustDial(socks))
		}
		// Two drip-feeders: one byte a second, on each forward.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		defer func() { close(stop); wg.Wait() }()
		var drips [2]atomic.Int64
		for i, addr := range []string{db, socks} {
			c := r.mustDial(addr)
			slow = append(slow, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := c.Write([]byte{5}); err != nil {
							return
						}
						drips[i].Add(1)
					}
				}
			}()
		}
		k.waitProfile("vps", 20*time.Second, "holding the slow clients", func(p api.Profile) bool {
			return forward(t, p, "db").Active >= 21 && forward(t, p, "socks").Active >= 21
		})

		// Other clients keep being served while the drip-feeders drip (at
		// least three bytes each) and the silent ones sit there.
		deadline := time.Now().Add(60 * time.Second)
		for i := 0; i < 10 || drips[0].Load() < 3 || drips[1].Load() < 3; i++ {
			if time.Now().After(deadline) {
				t.Fatalf("drip-feeders stuck at %d and %d bytes", drips[0].Load(), drips[1].Load())
			}
			if err := r.tryRoundTrip(db, strings.Repeat("x", 1000*(i%10+1)), 20*time.Second); err != nil {
				t.Fatalf("client %d behind the slow ones: %v", i, err)
			}
			c := r.mustDial(socks)
			if err := socks5Connect(c, r.admin.Addr); err != nil {
				c.Close()
				t.Fatalf("SOCKS client %d behind the slow ones: %v", i, err)
			}
			body, err := httpGet(c)
			c.Close()
			if err != nil || body != netns.AdminBody {
				t.Fatalf("SOCKS client %d: admin page %q, %v", i, body, err)
			}
		}
		p = k.profile("vps")
		if f := forward(t, p, "db"); f.Active < 21 {
			t.Errorf("db forward holds %d clients, want the 21 slow ones still open", f.Active)
		}
		if p.State != api.Up || p.Reconnects != 0 {
			t.Errorf("after the slow clients: state %s, reconnects %d", p.State, p.Reconnects)
		}
	})
}

// 1,000 connections opened and abandoned in every rude way leave no file
// descriptors behind in kuguri, and its memory stays bounded: a second
// round of 1,000 does not grow it further. (Goroutines are counted by the
// engine's own in-process tests: kuguri has no pprof endpoint.)
func TestAbandonedConnectionsLeaveNothing(t *testing.T) {
	r := loopbackRig(t)
	k := r.up(configYAML(r.vps("vps", local("db", r.db.Addr))), "vps")
	db := forward(t, k.profile("vps"), "db").Listen
	for i := 0; i < 20; i++ { // warm up: buffers, the first channels
		r.roundTrip(db, strings.Repeat("w", 4096))
	}
	k.waitProfile("vps", 10*time.Second, "idle", func(p api.Profile) bool { return forward(t, p, "db").Active == 0 })
	fds0, rss0 := k.fdCount(), k.rssKB()

	const total, slack = 1000, 8
	abandon := func(round int) (fds, rss int) {
		t.Helper()
		r.abandonConnections(db, total)
		var p api.Profile
		p = k.waitProfile("vps", 60*time.Second, "done with the abandoned connections", func(p api.Profile) bool {
			fds = k.fdCount()
			f := forward(t, p, "db")
			return f.Active == 0 && f.Total >= uint64(round*total+20) && fds <= fds0+slack
		})
		if p.State != api.Up || p.Reconnects != 0 {
			t.Errorf("after %d abandoned connections: state %s, reconnects %d", round*total, p.State, p.Reconnects)
		}
		return fds, k.rssKB()
	}
	fds1, rss1 := abandon(1)
	fds2, rss2 := abandon(2)
	t.Logf("fds %d -> %d -> %d; RSS %d -> %d -> %d KiB", fds0, fds1, fds2, rss0, rss1, rss2)

	// A Go heap grows in steps and returns memory lazily, so the first
	// round may raise RSS; a leak of 1,000 connections' goroutines and
	// buffers (tens of MiB) shows in the second.
	growth := 16 << 10
	if raceEnabled {
		growth = 64 << 10 // the race detector's shadow memory
	}
	if rss2 > rss1+growth {
		t.Errorf("RSS grew from %d to %d KiB over the second 1,000 abandoned connections (allowed +%d)", rss1, rss2, growth)
	}
	r.roundTrip(db, "still serving")
}

// abandonConnections opens n connections to addr from 20 workers and drops
// each one rudely: at once, mid-echo, with a reset, or half-closed.
func (r *rig) abandonConnections(addr string, n int) {
	r.t.Helper()
	const workers = 20
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				c, err := r.dial(addr)
				if err != nil {
					errc <- err
					return
				}
				switch i % 4 {
				case 0: // connect and close at once
				case 1: // send, close without reading the echo
					_, _ = c.Write([]byte(strings.Repeat("a", 8192)))
				case 2: // send, read part of it, reset the connection
					_, _ = c.Write([]byte(strings.Repeat("b", 32768)))
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					_, _ = io.ReadFull(c, make([]byte, 100))
					_ = c.(*net.TCPConn).SetLinger(0)
				case 3: // half-close and walk away
					_, _ = c.Write([]byte("c"))
					_ = c.(*net.TCPConn).CloseWrite()
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		r.t.Fatalf("opening the connections: %v", err)
	}
}

// sshd comes back with a NEW host key: the profile fails with a host-key
// error and stays failed; kuguri does not knock again.
func TestNewHostKeyFailsForGood(t *testing.T) {
	r := topologyRig(t, netns.Options{})
	k := r.up(configYAML(r.vps("vps", local("db", netns.DBAddr))), "vps")
	r.roundTrip(forward(t, k.profile("vps"), "db").Listen, "old key")

	r.sshd.RestartWithNewHostKey()
	p := k.waitProfile("vps", 30*time.Second, "failed", func(p api.Profile) bool { return p.State == api.Failed })
	if p.ErrorKind != api.KindHostKey || !strings.Contains(p.LastError, "host key") {
		t.Errorf("failed with kind %q, last_error %q; want a host-key error", p.ErrorKind, p.LastError)
	}
	if !strings.Contains(p.Note, "kuguri trust") {
		t.Errorf("note %q does not point at kuguri trust", p.Note)
	}
	// sshd logs "Connection from" when it accepts, before key exchange:
	// the refused connection is the second one in the log.
	r.sshd.WaitLog(t, "Connection from", 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); countLog(r.sshd, "Connection from") < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("sshd logged no connection for the refused attempt:\n%s", r.sshd.Log())
		}
		time.Sleep(20 * time.Millisecond) // poll sshd's log
	}
	conns := countLog(r.sshd, "Connection from")
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		if p := k.profile("vps"); p.State != api.Failed {
			t.Fatalf("state %s after a changed host key, want failed for good", p.State)
		}
		time.Sleep(250 * time.Millisecond) // poll interval
	}
	if n := countLog(r.sshd, "Connection from"); n != conns {
		t.Errorf("sshd saw %d connections after kuguri failed on the host key, want none (%d then %d)", n-conns, conns, n)
	}
	if k.exited() {
		t.Errorf("kuguri up exited (%v); a failed profile should leave it serving", k.err)
	}
}
