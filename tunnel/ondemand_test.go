package tunnel

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// sshServer starts an internal/sshserver that accepts e's key and whose host
// key e's setup pins.
func (e *testEnv) sshServer() (*sshserver.Server, string) {
	e.t.Helper()
	srv, err := sshserver.New(sshserver.Config{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go srv.Serve(ln)
	e.t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	e.setup.keys[addr] = srv.HostKey()
	return srv, addr
}

func supOf(m *Manager, name string) *supervisor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries[name].sup
}

func dialsOf(s *supervisor) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

func TestOnDemandDialsAtFirstClientAndIdlesOut(t *testing.T) {
	e := newEnv(t)
	srv, addr := e.sshServer()
	echo := sshdtest.EchoServer(t)
	set := testSettings()
	set.IdleTimeout = 300 * time.Millisecond
	e.add(&profile.Resolved{Name: "lazy", OnDemand: true, Settings: set,
		Hops: []profile.Hop{hopFor("vps", addr)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	m := e.run()

	p := startReady(t, m, "lazy")
	if p.State != api.Standby || p.Forwards[0].State != api.Listening || strings.HasSuffix(p.Forwards[0].Listen, ":0") {
		t.Fatalf("after Start: %v, forward %+v; want standby with a bound listener", p.State, p.Forwards[0])
	}
	listen := p.Forwards[0].Listen
	// An always-on profile would have dialled by now; give it every chance.
	time.Sleep(200 * time.Millisecond) // observing absence: nothing to poll for
	if st, d := srv.Stats(), dialsOf(supOf(m, "lazy")); st.Conns != 0 || st.FailedHandshakes != 0 || d != 0 {
		t.Fatalf("standby made connections: server %+v, dials %d", st, d)
	}
	if p := profState(m, "lazy"); p.State != api.Standby {
		t.Fatalf("state %v, want standby", p.State)
	}

	// The first client is held while the chain is dialled, then served.
	roundTrip(t, listen, "wakes the link")
	if st := srv.Stats(); st.Conns != 1 {
		t.Fatalf("after the first client: %d connections, want 1", st.Conns)
	}
	if p := profState(m, "lazy"); p.State != api.Up {
		t.Fatalf("after the first client: %v, want up", p.State)
	}
	// A client open for longer than the idle timeout keeps the link.
	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "client counted", func() bool { return profState(m, "lazy").Forwards[0].Active == 1 })
	time.Sleep(3 * set.IdleTimeout) // observing absence of an idle close
	if p, st := profState(m, "lazy"), srv.Stats(); p.State != api.Up || st.ActiveConns != 1 || st.Conns != 1 {
		t.Fatalf("with a client open: %v, server %+v; want the one link kept", p.State, st)
	}
	c.Close()

	// No client: the link closes after the idle timeout, listeners stay.
	waitFor(t, 5*time.Second, "standby again", func() bool { return profState(m, "lazy").State == api.Standby })
	waitFor(t, 5*time.Second, "server side closed", func() bool { return srv.Stats().ActiveConns == 0 })
	p = profState(m, "lazy")
	if p.Forwards[0].State != api.Listening || p.Forwards[0].Listen != listen || p.LastError != "" || !strings.Contains(p.Note, "no client") {
		t.Fatalf("after idling out: %+v", p)
	}

	// The next client dials again; that is not a reconnect.
	roundTrip(t, listen, "and again")
	p = profState(m, "lazy")
	if st := srv.Stats(); st.Conns != 2 || p.State != api.Up || p.Reconnects != 0 {
		t.Fatalf("second wake: server %+v, state %v, reconnects %d", st, p.State, p.Reconnects)
	}
}

func TestOnDemandWithRemoteForwardRejected(t *testing.T) {
	e := newEnv(t)
	_, addr := e.sshServer()
	e.add(&profile.Resolved{Name: "lazy", OnDemand: true,
		Hops:     []profile.Hop{hopFor("vps", addr)},
		Forwards: []profile.Forward{{Name: "back", Type: profile.Remote, Remote: "127.0.0.1:0", Local: "127.0.0.1:3000"}}})
	m := e.run()
	err := m.Start(context.Background(), "lazy")
	if !errors.Is(err, api.ErrConfig) || !strings.Contains(err.Error(), `"back"`) || !strings.Contains(err.Error(), "on_demand") {
		t.Fatalf("Start: %v; want ErrConfig naming the remote forward", err)
	}
}

func TestProbeMarksDeadTargetWithoutTouchingLink(t *testing.T) {
	e := newEnv(t)
	srv, addr := e.sshServer()
	clk := newFakeClock()
	e.opts.Clock = clk
	// A target that is down: a loopback port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	set := testSettings()
	set.KeepaliveInterval = 10 * time.Hour // keepalives out of the way of the fake clock
	f := localFwd("db", target)
	f.ProbeInterval = time.Hour
	e.add(&profile.Resolved{Name: "vps", Settings: set, Hops: []profile.Hop{hopFor("vps", addr)}, Forwards: []profile.Forward{f}})
	m := e.run()
	if err := m.Start(context.Background(), "vps"); err != nil {
		t.Fatal(err)
	}
	// The first probe runs as the link comes up.
	waitFor(t, 5*time.Second, "probe marks the target down", func() bool {
		p := profState(m, "vps")
		return p.State == api.Up && p.Forwards[0].State == api.Error
	})
	p := profState(m, "vps")
	fw := p.Forwards[0]
	if fw.Probe == nil || fw.Probe.OK || !fw.Probe.At.Equal(clk.Now()) || !strings.HasPrefix(fw.LastError, "target "+target+" refused: connect failed (") || fw.Probe.LastError != fw.LastError {
		t.Fatalf("forward %+v probe %+v", fw, fw.Probe)
	}

	// The target comes up; the next probe, an hour later on the injected
	// clock, clears the forward.
	ln, err = net.Listen("tcp", target)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", target, err)
	}
	defer ln.Close()
	waitFor(t, 5*time.Second, "probe sees the target", func() bool {
		clk.Advance(time.Hour)
		fw := profState(m, "vps").Forwards[0]
		return fw.State == api.Listening && fw.Probe != nil && fw.Probe.OK
	})
	p = profState(m, "vps")
	if p.State != api.Up || p.Reconnects != 0 || p.Forwards[0].LastError != "" || srv.Stats().Conns != 1 {
		t.Fatalf("after recovery: %+v, server %+v", p, srv.Stats())
	}
}

func TestProbeInterval(t *testing.T) {
	s := profile.Settings{}
	for _, c := range []struct {
		f    profile.Forward
		s    profile.Settings
		want time.Duration
	}{
		{profile.Forward{Type: profile.Local}, s, 0},
		{profile.Forward{Type: profile.Local, Probe: true}, s, defaultProbeInterval},
		{profile.Forward{Type: profile.Local, ProbeInterval: time.Second}, s, time.Second},
		{profile.Forward{Type: profile.Local}, profile.Settings{ProbeInterval: 5 * time.Second}, 5 * time.Second},
		{profile.Forward{Type: profile.Local, Probe: true, ProbeInterval: time.Second}, profile.Settings{ProbeInterval: 5 * time.Second}, time.Second},
		{profile.Forward{Type: profile.Dynamic, Probe: true}, s, 0},
		{profile.Forward{Type: profile.Remote, Probe: true}, s, 0},
	} {
		if got := probeInterval(c.f, c.s); got != c.want {
			t.Errorf("probeInterval(%+v, %+v) = %v, want %v", c.f, c.s, got, c.want)
		}
	}
}

func TestHooksOnUpOnDown(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	out := filepath.Join(t.TempDir(), "hooks.log")
	set := testSettings()
	line := `printf '%s %s %s %s\n' "$1" "$KUGURI_PROFILE" "$KUGURI_STATE" "$KUGURI_PREV_STATE" >> ` + out
	set.OnUp = "set -- on_up; " + line
	set.OnDown = "set -- on_down; " + line
	e.add(&profile.Resolved{Name: "vps", Settings: set, Hops: []profile.Hop{hopFor("vps", srv.addr)}})
	m := e.run()
	lines := func() []string {
		b, _ := os.ReadFile(out)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	startReady(t, m, "vps")
	waitFor(t, 10*time.Second, "on_up", func() bool { return slices.Contains(lines(), "on_up vps up connecting") })
	srv.Kill()
	waitFor(t, 10*time.Second, "on_down", func() bool { return slices.Contains(lines(), "on_down vps reconnecting up") })
	srv.Revive()
	waitFor(t, 10*time.Second, "on_up again", func() bool { return slices.Contains(lines(), "on_up vps up reconnecting") })
	if err := m.Stop(context.Background(), "vps"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "on_down at stop", func() bool { return slices.Contains(lines(), "on_down vps stopped up") })
	want := []string{"on_up vps up connecting", "on_down vps reconnecting up", "on_up vps up reconnecting", "on_down vps stopped up"}
	if got := lines(); !slices.Equal(got, want) {
		t.Fatalf("hooks ran\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestSnapshotHopsAreShortNames(t *testing.T) {
	e := newEnv(t)
	bastion := e.server()
	target := e.server()
	noName := hopFor("", target.addr)
	e.add(&profile.Resolved{Name: "socks", Hops: []profile.Hop{hopFor("demo-vps", target.addr)}})
	e.add(&profile.Resolved{Name: "chain", Hops: []profile.Hop{hopFor("bastion", bastion.addr), hopFor("vps", target.addr)}})
	e.add(&profile.Resolved{Name: "bare", Hops: []profile.Hop{noName}})
	m := e.run()
	check := func(when string) {
		t.Helper()
		for name, want := range map[string][]string{"socks": {"demo-vps"}, "chain": {"bastion", "vps"}, "bare": {target.addr}} {
			if got := profState(m, name).Hops; !slices.Equal(got, want) {
				t.Errorf("%s: %s hops %q, want %q", when, name, got, want)
			}
		}
	}
	check("stopped")
	startReady(t, m, "socks")
	startReady(t, m, "chain")
	startReady(t, m, "bare")
	check("running")
}
