package tunnel

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// Tests against a real OpenSSH sshd, with the production host-key checks
// (internal/hostkeys) and authentication (internal/sshauth).

type sshdEnv struct {
	t       *testing.T
	dir     string
	keyPath string
	signer  ssh.Signer
	kh      string
}

func newSSHDEnv(t *testing.T) *sshdEnv {
	sshdtest.Require(t)
	dir := t.TempDir()
	signer, priv := sshdtest.NewKey(t, dir, "id_ed25519", "")
	return &sshdEnv{t: t, dir: dir, keyPath: priv, signer: signer, kh: filepath.Join(dir, "known_hosts")}
}

func (e *sshdEnv) hop(name string, s *sshdtest.Server) profile.Hop {
	return profile.Hop{
		Name: name, HostName: "127.0.0.1", Port: s.Port, User: s.User,
		IdentityFiles: []string{e.keyPath}, IdentitiesOnly: true, IdentityAgent: "none",
		KnownHostsFiles: []string{e.kh}, StrictHostKeyChecking: "yes",
	}
}

func (e *sshdEnv) opts() Options {
	return Options{Version: "test", Getenv: func(string) string { return "" }}
}

func (e *sshdEnv) manager(rs ...*profile.Resolved) *Manager {
	o := e.opts()
	byName := map[string]*profile.Resolved{}
	cfg := &profile.Config{Profiles: map[string]*profile.Profile{}}
	for _, r := range rs {
		if r.Settings == (profile.Settings{}) {
			r.Settings = testSettings()
		}
		byName[r.Name] = r
		cfg.Profiles[r.Name] = &profile.Profile{Name: r.Name}
	}
	o.resolve = func(_ *profile.Config, name string) (*profile.Resolved, error) { return byName[name], nil }
	m := NewManager(cfg, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
	return m
}

func TestSSHDLocalForward(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	echo := sshdtest.EchoServer(t)
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	p := startReady(t, m, "vps")
	roundTrip(t, p.Forwards[0].Listen, strings.Repeat("real sshd ", 50000))
	if p.SSHCommand == "" {
		t.Error("no ssh command in snapshot")
	}
}

func TestSSHDTwoHops(t *testing.T) {
	e := newSSHDEnv(t)
	bastion, target := sshdtest.Chain(t, e.signer.PublicKey())
	sshdtest.WriteKnownHosts(t, e.kh, bastion.KnownHostsLine(), target.KnownHostsLine())
	echo := sshdtest.EchoServer(t)
	m := e.manager(&profile.Resolved{Name: "chain", Hops: []profile.Hop{e.hop("bastion", bastion), e.hop("vps", target)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	p := startReady(t, m, "chain")
	roundTrip(t, p.Forwards[0].Listen, "two real hops")
	bastion.WaitLog(t, sshdtest.DirectTCPIPLogLine(target.Addr), 5*time.Second)
}

func TestSSHDWrongKeyIsAuth(t *testing.T) {
	e := newSSHDEnv(t)
	other, _ := sshdtest.NewKey(t, e.dir, "other", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{other.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}})
	m.Start(context.Background(), "vps")
	_, err := m.WaitReady(context.Background(), "vps")
	if !errors.Is(err, api.ErrAuth) || errors.Is(err, api.ErrNetwork) || errors.Is(err, api.ErrHostKey) {
		t.Fatalf("err %v, want ErrAuth only", err)
	}
}

func TestSSHDUnknownHostKeyHeadless(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}})
	m.Start(context.Background(), "vps")
	_, err := m.WaitReady(context.Background(), "vps")
	if !errors.Is(err, api.ErrHostKey) || !strings.Contains(err.Error(), "kuguri trust") {
		t.Fatalf("err %v, want ErrHostKey with the trust hint", err)
	}
	waitFor(t, 5*time.Second, "failed", func() bool { return profState(m, "vps").State == api.Failed })
}

func TestSSHDKillRestart(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	echo := sshdtest.EchoServer(t)
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	p := startReady(t, m, "vps")
	listen := p.Forwards[0].Listen
	roundTrip(t, listen, "before")

	// One outage with a client held through it.
	srv.Kill()
	waitFor(t, 5*time.Second, "reconnecting", func() bool { return profState(m, "vps").State == api.Reconnecting })
	if f := profState(m, "vps").Forwards[0]; f.Listen != listen || f.State != api.Waiting {
		t.Fatalf("forward during outage %+v", f)
	}
	held := make(chan struct{})
	go func() {
		defer close(held)
		roundTrip(t, listen, "held while sshd was down")
	}()
	waitFor(t, 5*time.Second, "client held", func() bool { return profState(m, "vps").Forwards[0].Active == 1 })
	srv.Restart()
	<-held

	// Then many cycles: nothing may grow.
	waitFor(t, 10*time.Second, "up", func() bool { return profState(m, "vps").State == api.Up })
	roundTrip(t, listen, "settle")
	baseG, baseFD := settled(t)
	const cycles = 20
	for i := range cycles {
		srv.Kill()
		waitFor(t, 10*time.Second, "down", func() bool { return profState(m, "vps").State != api.Up })
		srv.Restart()
		waitFor(t, 15*time.Second, "up again", func() bool {
			p := profState(m, "vps")
			return p.State == api.Up && p.Reconnects == i+2
		})
	}
	roundTrip(t, listen, "after cycles")
	var g, fd int
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fd = runtime.NumGoroutine(), fdCount(t)
		if g <= baseG+3 && fd <= baseFD+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d reconnects: goroutines %d (was %d), fds %d (was %d)", cycles, g, baseG, fd, baseFD)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled returns the goroutine and fd counts once they stop moving.
func settled(t *testing.T) (int, int) {
	g, fd := runtime.NumGoroutine(), fdCount(t)
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		g2, fd2 := runtime.NumGoroutine(), fdCount(t)
		if g2 == g && fd2 == fd {
			break
		}
		g, fd = g2, fd2
	}
	return g, fd
}

func fdCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

func TestSSHDLocalPortBusy(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	f := localFwd("db", "127.0.0.1:5432")
	f.Local = busy.Addr().String()
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{f}})
	m.Start(context.Background(), "vps")
	_, err = m.WaitReady(context.Background(), "vps")
	if !errors.Is(err, api.ErrForward) {
		t.Fatalf("err %v, want ErrForward", err)
	}
	for _, want := range []string{busy.Addr().String(), `forward "db"`, `profile "vps"`, "already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q does not name %s", err, want)
		}
	}
}

func TestSSHDRemoteForward(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	echo := sshdtest.EchoServer(t)
	f := profile.Forward{Name: "back", Type: profile.Remote, Remote: "127.0.0.1:0", Local: echo}
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{f}})
	p := startReady(t, m, "vps")
	got := p.Forwards[0]
	if got.State != api.Listening || strings.HasSuffix(got.Listen, ":0") || got.Target != echo {
		t.Fatalf("remote forward %+v", got)
	}
	// The server listens on its loopback, which is ours here.
	roundTrip(t, got.Listen, "from the server side")
	// After a reconnect the forward is requested again.
	srv.Kill()
	waitFor(t, 5*time.Second, "down", func() bool { return profState(m, "vps").State != api.Up })
	srv.Restart()
	waitFor(t, 15*time.Second, "remote forward back", func() bool {
		p := profState(m, "vps")
		return p.State == api.Up && p.Forwards[0].State == api.Listening
	})
	roundTrip(t, profState(m, "vps").Forwards[0].Listen, "again")
}
