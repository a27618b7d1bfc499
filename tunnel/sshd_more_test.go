package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshauth"
	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// More tests against a real OpenSSH sshd: on-demand profiles, probes,
// refused targets, a headless encrypted key.

const acceptedLine = "Accepted publickey"

func TestSSHDOnDemand(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	echo := sshdtest.EchoServer(t)
	set := testSettings()
	set.IdleTimeout = 300 * time.Millisecond
	m := e.manager(&profile.Resolved{Name: "lazy", OnDemand: true, Settings: set,
		Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{localFwd("echo", echo)}})
	p := startReady(t, m, "lazy")
	if p.State != api.Standby || p.Forwards[0].State != api.Listening {
		t.Fatalf("after Start: %v, forward %+v", p.State, p.Forwards[0])
	}
	listen := p.Forwards[0].Listen
	time.Sleep(300 * time.Millisecond) // observing absence: nothing to poll for
	if n := strings.Count(srv.Log(), acceptedLine); n != 0 {
		t.Fatalf("sshd accepted %d logins before any client:\n%s", n, srv.Log())
	}

	roundTrip(t, listen, "first client through real sshd")
	if n := strings.Count(srv.Log(), acceptedLine); n != 1 {
		t.Fatalf("sshd accepted %d logins after the first client, want 1:\n%s", n, srv.Log())
	}
	roundTrip(t, listen, "second client, same link")
	waitFor(t, 5*time.Second, "standby after the idle timeout", func() bool { return profState(m, "lazy").State == api.Standby })
	// sshd sees the client go away.
	srv.WaitLog(t, "Closing connection to 127.0.0.1", 5*time.Second)
	if n := strings.Count(srv.Log(), acceptedLine); n != 1 {
		t.Fatalf("sshd accepted %d logins for two clients within the idle timeout, want 1", n)
	}
	roundTrip(t, listen, "after idling")
	if n := strings.Count(srv.Log(), acceptedLine); n != 2 {
		t.Fatalf("sshd accepted %d logins after the link idled out and a client came, want 2", n)
	}
}

func TestSSHDProbeDeadTarget(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	f := localFwd("rdp", target)
	f.ProbeInterval = 100 * time.Millisecond
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{f}})
	startReady(t, m, "vps")
	want := "target " + target + " refused: connect failed (Connection refused)"
	waitFor(t, 5*time.Second, "probe marks the target down", func() bool {
		fw := profState(m, "vps").Forwards[0]
		return fw.State == api.Error && fw.LastError == want
	})
	// Several more probes fail; the link is never touched.
	waitFor(t, 5*time.Second, "more probes", func() bool {
		return strings.Count(srv.Log(), "connect_to "+strings.Replace(target, ":", " port ", 1)) >= 3
	})
	p := profState(m, "vps")
	if p.State != api.Up || p.Reconnects != 0 || p.LastError != "" || p.Forwards[0].Probe == nil || p.Forwards[0].Probe.OK || p.Forwards[0].Probe.LastError != want {
		t.Fatalf("with the target down: %+v probe %+v", p, p.Forwards[0].Probe)
	}

	// The target comes up: the next probe clears the forward.
	ln, err = net.Listen("tcp", target)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", target, err)
	}
	defer ln.Close()
	waitFor(t, 5*time.Second, "probe sees the target", func() bool {
		fw := profState(m, "vps").Forwards[0]
		return fw.State == api.Listening && fw.Probe != nil && fw.Probe.OK && fw.LastError == ""
	})
	p = profState(m, "vps")
	if p.State != api.Up || p.Reconnects != 0 {
		t.Fatalf("after recovery: %v reconnects %d", p.State, p.Reconnects)
	}
	if n := strings.Count(srv.Log(), acceptedLine); n != 1 {
		t.Fatalf("sshd accepted %d logins, want 1: probes must not reconnect", n)
	}
}

func TestSSHDRefusedTargetKeepsProfileUp(t *testing.T) {
	e := newSSHDEnv(t)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	m := e.manager(&profile.Resolved{Name: "vps", Hops: []profile.Hop{e.hop("vps", srv)}, Forwards: []profile.Forward{localFwd("db", target)}})
	p := startReady(t, m, "vps")
	c, err := net.Dial("tcp", p.Forwards[0].Listen)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read from a forward whose target refuses: %d, %v; want EOF", n, err)
	}
	c.Close()
	want := target + ": connection failed: Connection refused"
	waitFor(t, 5*time.Second, "forward last error", func() bool { return profState(m, "vps").Forwards[0].LastError == want })
	p = profState(m, "vps")
	if p.State != api.Up || p.Reconnects != 0 || p.LastError != "" {
		t.Fatalf("profile after a refused client: %+v", p)
	}
	if n := strings.Count(srv.Log(), acceptedLine); n != 1 {
		t.Fatalf("sshd accepted %d logins, want 1", n)
	}
}

func TestSSHDHeadlessEncryptedKey(t *testing.T) {
	e := newSSHDEnv(t)
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	enc, encPath := sshdtest.NewKey(t, sshDir, "id_ed25519", "secret")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{enc.PublicKey()}})
	sshdtest.WriteKnownHosts(t, e.kh, srv.KnownHostsLine())
	hop := e.hop("vps", srv)
	hop.IdentityFiles = []string{encPath}
	r := &profile.Resolved{Name: "vps", Settings: testSettings(), Hops: []profile.Hop{hop}}
	o := e.opts() // Prompter nil: headless
	o.Getenv = func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	o.resolve = func(*profile.Config, string) (*profile.Resolved, error) { return r, nil }
	m := NewManager(&profile.Config{Profiles: map[string]*profile.Profile{"vps": {Name: "vps"}}}, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := m.Start(ctx, "vps"); err != nil {
		t.Fatal(err)
	}
	_, err := m.WaitReady(ctx, "vps")
	plain := "key ~/.ssh/id_ed25519 is encrypted and there is no terminal to ask for its passphrase: load it into ssh-agent, or run kuguri once in a terminal"
	var ae *sshauth.AuthError
	var ke *sshauth.KeyError
	if !errors.Is(err, api.ErrAuth) || !errors.Is(err, api.ErrNoPrompter) || !errors.As(err, &ae) || !errors.As(err, &ke) || ke.Error() != plain {
		t.Fatalf("err %v; want an AuthError carrying the KeyError %q", err, plain)
	}
	if !strings.Contains(err.Error(), "hop 1") || !strings.HasSuffix(err.Error(), plain) {
		t.Errorf("message %q", err)
	}
	waitFor(t, 5*time.Second, "note", func() bool { return profState(m, "vps").Note == plain })
	if p := profState(m, "vps"); p.State != api.Reconnecting || p.ErrorKind != api.KindAuth {
		t.Fatalf("profile %+v", p)
	}
	if strings.Contains(srv.Log(), acceptedLine) {
		t.Fatal("sshd accepted a login with a key nobody could decrypt")
	}
}
