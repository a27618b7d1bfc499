package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

func localFwd(name, target string) profile.Forward {
	return profile.Forward{Name: name, Type: profile.Local, Local: "127.0.0.1:0", Remote: target}
}

func startReady(t *testing.T, m *Manager, name string) api.Profile {
	t.Helper()
	if err := m.Start(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := m.WaitReady(ctx, name)
	if err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return p
}

func TestLocalForwardEcho(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	echo := sshdtest.EchoServer(t)
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	m := e.run()
	p := startReady(t, m, "vps")
	if p.State != api.Up || len(p.Forwards) != 1 {
		t.Fatalf("state %v forwards %d", p.State, len(p.Forwards))
	}
	f := p.Forwards[0]
	if strings.HasSuffix(f.Listen, ":0") || f.State != api.Listening || f.Target != echo {
		t.Fatalf("forward %+v", f)
	}
	big := strings.Repeat("kuguri ", 100000)
	roundTrip(t, f.Listen, big)
	roundTrip(t, f.Listen, "hello")
	waitFor(t, 5*time.Second, "counters", func() bool {
		f := profState(m, "vps").Forwards[0]
		return f.Total == 2 && f.Active == 0 && f.BytesIn == uint64(len(big)+5) && f.BytesOut == uint64(len(big)+5)
	})
}

func TestTwoHopChain(t *testing.T) {
	e := newEnv(t)
	bastion := e.server()
	target := e.server()
	echo := sshdtest.EchoServer(t)
	e.add(&profile.Resolved{Name: "chain", Hops: []profile.Hop{hopFor("bastion", bastion.addr), hopFor("vps", target.addr)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	m := e.run()
	p := startReady(t, m, "chain")
	roundTrip(t, p.Forwards[0].Listen, "through two hops")
	if got := bastion.seenTargets(); len(got) != 1 || got[0] != target.addr {
		t.Fatalf("bastion direct-tcpip targets %v, want [%s]", got, target.addr)
	}
	if got := target.seenTargets(); len(got) != 1 || got[0] != echo {
		t.Fatalf("target direct-tcpip targets %v, want [%s]", got, echo)
	}
	if len(p.Hops) != 2 {
		t.Fatalf("hops %v", p.Hops)
	}
}

func TestHopErrorNamesHop(t *testing.T) {
	e := newEnv(t)
	bastion := e.server()
	// Nothing listens at dead.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	e.add(&profile.Resolved{Name: "chain", Hops: []profile.Hop{hopFor("bastion", bastion.addr), hopFor("vps", dead)}})
	m := e.run()
	if err := m.Start(context.Background(), "chain"); err != nil {
		t.Fatal(err)
	}
	_, err := m.WaitReady(context.Background(), "chain")
	if !errors.Is(err, api.ErrNetwork) || errors.Is(err, api.ErrAuth) || errors.Is(err, api.ErrHostKey) {
		t.Fatalf("err %v: want exactly ErrNetwork", err)
	}
	if want := "hop 2 (vps " + dead + ")"; !strings.Contains(err.Error(), want) {
		t.Fatalf("err %q does not name %q", err, want)
	}
	var he *HopError
	if !errors.As(err, &he) || he.Hop != 2 {
		t.Fatalf("err %v: not a HopError for hop 2", err)
	}
}

func TestRefusedChannelRecordedWithoutReconnect(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	echo := sshdtest.EchoServer(t)
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	m := e.run()
	p := startReady(t, m, "vps")
	srv.RefuseChannels(true)
	c, err := net.Dial("tcp", p.Forwards[0].Listen)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read from refused forward: %d, %v; want EOF", n, err)
	}
	c.Close()
	waitFor(t, 5*time.Second, "last_error", func() bool {
		return strings.Contains(profState(m, "vps").Forwards[0].LastError, "prohibited")
	})
	srv.RefuseChannels(false)
	roundTrip(t, p.Forwards[0].Listen, "still up")
	q := profState(m, "vps")
	if q.State != api.Up || q.Reconnects != 0 || srv.accepted.Load() != 1 {
		t.Fatalf("state %v reconnects %d server conns %d: a refused channel must not reconnect", q.State, q.Reconnects, srv.accepted.Load())
	}
}

func TestKeepaliveDetectsBlackHole(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}})
	m := e.run()
	startReady(t, m, "vps")
	waitFor(t, 5*time.Second, "a keepalive round trip", func() bool { return profState(m, "vps").RTTMillis > 0 })
	if srv.keepalive.Load() == 0 {
		t.Fatal("server saw no keepalive")
	}
	srv.Pause(true)
	start := time.Now()
	set := testSettings()
	bound := set.KeepaliveInterval*time.Duration(set.KeepaliveCountMax) + time.Second
	waitFor(t, bound+2*time.Second, "link declared dead", func() bool { return profState(m, "vps").State != api.Up })
	if took := time.Since(start); took > bound {
		t.Fatalf("black hole noticed after %v, bound %v", took, bound)
	}
	p := profState(m, "vps")
	if !strings.Contains(p.LastError, "keepalive") || p.ErrorKind != api.KindNetwork {
		t.Fatalf("last error %q kind %q", p.LastError, p.ErrorKind)
	}
	srv.Pause(false)
	waitFor(t, 10*time.Second, "back up", func() bool {
		p := profState(m, "vps")
		return p.State == api.Up && p.Reconnects == 1
	})
}

func TestReconnectHoldsClient(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	echo := sshdtest.EchoServer(t)
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	m := e.run()
	p := startReady(t, m, "vps")
	listen := p.Forwards[0].Listen
	roundTrip(t, listen, "before")

	srv.Kill()
	waitFor(t, 5*time.Second, "reconnecting", func() bool { return profState(m, "vps").State == api.Reconnecting })
	if f := profState(m, "vps").Forwards[0]; f.State != api.Waiting || f.Listen != listen {
		t.Fatalf("forward during outage: %+v", f)
	}
	// A client arriving now is held, then served when the link returns.
	done := make(chan struct{})
	go func() {
		defer close(done)
		roundTrip(t, listen, "held during the outage")
	}()
	waitFor(t, 5*time.Second, "client accepted", func() bool { return profState(m, "vps").Forwards[0].Active == 1 })
	srv.Revive()
	<-done
	q := profState(m, "vps")
	if q.State != api.Up || q.Reconnects != 1 {
		t.Fatalf("after revive: %v reconnects %d", q.State, q.Reconnects)
	}
}

func TestHeldClientClosedWhenWaitRunsOut(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	echo := sshdtest.EchoServer(t)
	set := testSettings()
	set.ConnectTimeout = 300 * time.Millisecond
	e.add(&profile.Resolved{Name: "vps", Settings: set, Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	m := e.run()
	p := startReady(t, m, "vps")
	srv.Kill()
	waitFor(t, 5*time.Second, "reconnecting", func() bool { return profState(m, "vps").State == api.Reconnecting })
	c, err := net.Dial("tcp", p.Forwards[0].Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("held client: %v, want EOF after the wait", err)
	}
	waitFor(t, 2*time.Second, "last error", func() bool {
		return strings.Contains(profState(m, "vps").Forwards[0].LastError, "did not come back")
	})
}

func TestChangedHostKeyFails(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	e.setup.keys[srv.addr] = newSigner(t).PublicKey() // known_hosts holds another key
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{localFwd("x", "127.0.0.1:9")}})
	m := e.run()
	if err := m.Start(context.Background(), "vps"); err != nil {
		t.Fatal(err)
	}
	_, err := m.WaitReady(context.Background(), "vps")
	if !errors.Is(err, api.ErrHostKey) || errors.Is(err, api.ErrNetwork) {
		t.Fatalf("err %v, want ErrHostKey", err)
	}
	waitFor(t, 5*time.Second, "failed", func() bool { return profState(m, "vps").State == api.Failed })
	// No further attempts: wait several backoff periods.
	time.Sleep(500 * time.Millisecond) // observing absence: nothing to poll for
	p := profState(m, "vps")
	if n := srv.accepted.Load(); n != 1 {
		t.Fatalf("server saw %d connections after a changed key, want 1", n)
	}
	if p.State != api.Failed || p.ErrorKind != api.KindHostKey || p.Note == "" || p.Forwards[0].State != api.Error {
		t.Fatalf("profile %+v", p)
	}
}

func TestAuthFailureKind(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	e.setup.signer = newSigner(t) // a key the server does not know
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}})
	m := e.run()
	m.Start(context.Background(), "vps")
	_, err := m.WaitReady(context.Background(), "vps")
	if !errors.Is(err, api.ErrAuth) || errors.Is(err, api.ErrNetwork) || !strings.Contains(err.Error(), "hop 1") {
		t.Fatalf("err %v, want ErrAuth naming hop 1", err)
	}
}

func TestLocalPortBusy(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	f := localFwd("db", "127.0.0.1:5432")
	f.Local = busy.Addr().String()
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{f}})
	m := e.run()
	m.Start(context.Background(), "vps")
	_, err = m.WaitReady(context.Background(), "vps")
	if !errors.Is(err, api.ErrForward) {
		t.Fatalf("err %v, want ErrForward", err)
	}
	for _, want := range []string{busy.Addr().String(), `"db"`, `"vps"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q does not name %s", err, want)
		}
	}
}

func TestNonLoopbackRefused(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	f := localFwd("db", "127.0.0.1:5432")
	f.Local = "0.0.0.0:0"
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}, Forwards: []profile.Forward{f}})
	m := e.run()
	m.Start(context.Background(), "vps")
	_, err := m.WaitReady(context.Background(), "vps")
	if !errors.Is(err, api.ErrForward) || !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("err %v", err)
	}
}

func TestSnapshotListsStoppedProfiles(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	e.add(&profile.Resolved{Name: "a", Hops: []profile.Hop{hopFor("a", srv.addr)}, Forwards: []profile.Forward{localFwd("x", "127.0.0.1:1")}})
	e.add(&profile.Resolved{Name: "b", Hops: []profile.Hop{hopFor("b", srv.addr)}})
	m := e.run()
	s, _ := m.Snapshot(context.Background())
	if len(s.Profiles) != 2 || s.Profiles[0].Name != "a" || s.Profiles[0].State != api.Stopped || len(s.Profiles[0].Forwards) != 1 || s.Profiles[0].Forwards[0].State != api.Closed || len(s.Profiles[0].Hops) != 1 {
		t.Fatalf("snapshot %+v", s)
	}
	startReady(t, m, "a")
	if err := m.Stop(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if p := profState(m, "a"); p.State != api.Stopped || len(p.Events) == 0 {
		t.Fatalf("after stop: %+v", p)
	}
}

func TestWatchSlowSubscriber(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	e.add(&profile.Resolved{Name: "vps", Hops: []profile.Hop{hopFor("vps", srv.addr)}})
	m := e.run()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	never, err := m.Watch(ctx) // never read
	if err != nil {
		t.Fatal(err)
	}
	reader, err := m.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := <-reader
	if p, ok := first.Find("vps"); !ok || p.State != api.Stopped {
		t.Fatalf("first snapshot %+v", first)
	}
	startReady(t, m, "vps")
	for i := range 3 {
		if err := m.Reconnect(ctx, "vps"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "reconnect", func() bool {
			p := profState(m, "vps")
			return p.State == api.Up && p.Reconnects == i+1
		})
	}
	// The reader sees the latest state.
	waitFor(t, 5*time.Second, "latest snapshot", func() bool {
		select {
		case s := <-reader:
			p, _ := s.Find("vps")
			return p.State == api.Up && p.Reconnects == 3
		default:
			return false
		}
	})
	if len(never) != 1 {
		t.Fatalf("unread subscriber holds %d snapshots, want 1", len(never))
	}
	cancel()
	waitFor(t, 2*time.Second, "watch closed", func() bool {
		for {
			select {
			case _, ok := <-never:
				if !ok {
					return true
				}
			default:
				return false
			}
		}
	})
}
