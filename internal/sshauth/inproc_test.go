package sshauth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// server is an in-process x/crypto server for the methods a test sshd
// cannot offer (keyboard-interactive, password).
func server(t *testing.T, cfg *ssh.ServerConfig) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	hk, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AddHostKey(hk)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				defer sc.Close()
				go ssh.DiscardRequests(reqs)
				for ch := range chans {
					ch.Reject(ssh.Prohibited, "test server")
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dialWith(t *testing.T, addr string, cfg Config) error {
	t.Helper()
	methods, closer, err := Methods(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: cfg.Hop.User, Auth: methods, Timeout: 10 * time.Second,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // the host key is not under test here
	})
	if err != nil {
		return AsAuthError(cfg.Hop.String(), err)
	}
	c.Close()
	return nil
}

func localHop(addr string, files ...string) profile.Hop {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	return profile.Hop{Name: "box", HostName: host, Port: p, User: "alice", IdentityFiles: files, IdentityAgent: "none"}
}

func TestKeyboardInteractive(t *testing.T) {
	addr := server(t, &ssh.ServerConfig{
		KeyboardInteractiveCallback: func(conn ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			// An empty round first (some servers send one), then the questions.
			if _, err := ask("", "", nil, nil); err != nil {
				return nil, err
			}
			ans, err := ask("login", "two factors", []string{"Password: ", "Code: "}, []bool{false, true})
			if err != nil {
				return nil, err
			}
			if slices.Equal(ans, []string{"pw-secret", "123456"}) {
				return nil, nil
			}
			return nil, errors.New("wrong")
		},
	})
	p := &scripted{t: t, ki: func(q api.KeyboardInteractiveQuestion) ([]string, error) {
		return []string{"pw-secret", "123456"}, nil
	}}
	log, buf := newLogger()
	if err := dialWith(t, addr, Config{Profile: "p", Hop: localHop(addr), Prompter: p, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if len(p.kiAsked) != 1 {
		t.Fatalf("asked %d times (the empty round must not be asked)", len(p.kiAsked))
	}
	q := p.kiAsked[0]
	if q.Name != "login" || q.Instruction != "two factors" || !slices.Equal(q.Questions, []string{"Password: ", "Code: "}) ||
		!slices.Equal(q.Echo, []bool{false, true}) || q.User != "alice" || q.HopName != "box" || q.Profile != "p" {
		t.Errorf("question %+v", q)
	}
	if strings.Contains(buf.String(), "pw-secret") {
		t.Error("answer in the log")
	}

	// Wrong answers: an AuthError listing the methods, without the answers.
	p = &scripted{t: t, ki: func(api.KeyboardInteractiveQuestion) ([]string, error) { return []string{"bad-secret", "0"}, nil }}
	err := dialWith(t, addr, Config{Hop: localHop(addr), Prompter: p})
	var ae *AuthError
	if !errors.As(err, &ae) || !slices.Contains(ae.Methods, "keyboard-interactive") || strings.Contains(err.Error(), "bad-secret") {
		t.Fatalf("wrong answers: %v", err)
	}
}

func TestPassword(t *testing.T) {
	addr := server(t, &ssh.ServerConfig{
		PasswordCallback: func(conn ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if conn.User() == "alice" && string(pw) == "hunter2" {
				return nil, nil
			}
			return nil, errors.New("wrong")
		},
	})
	p := &scripted{t: t, ki: func(api.KeyboardInteractiveQuestion) ([]string, error) { return []string{"hunter2"}, nil }}
	if err := dialWith(t, addr, Config{Hop: localHop(addr), Prompter: p}); err != nil {
		t.Fatal(err)
	}
	if len(p.kiAsked) != 1 || len(p.kiAsked[0].Questions) != 1 || p.kiAsked[0].Echo[0] ||
		!strings.Contains(p.kiAsked[0].Questions[0], "alice@127.0.0.1") {
		t.Errorf("questions %+v", p.kiAsked)
	}
}

func TestHeadlessOffersNoInteractiveMethods(t *testing.T) {
	asked := false
	addr := server(t, &ssh.ServerConfig{
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
			asked = true
			return nil, errors.New("wrong")
		},
		KeyboardInteractiveCallback: func(ssh.ConnMetadata, ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			asked = true
			return nil, errors.New("wrong")
		},
	})
	for _, pr := range []api.Prompter{nil, api.Headless{}} {
		err := dialWith(t, addr, Config{Hop: localHop(addr), Prompter: pr})
		var ae *AuthError
		if !errors.As(err, &ae) || slices.Contains(ae.Methods, "password") || slices.Contains(ae.Methods, "keyboard-interactive") {
			t.Errorf("prompter %T: %v", pr, err)
		}
	}
	if asked {
		t.Error("password or keyboard-interactive attempted without a prompter")
	}
}

// acceptKeys is a server accepting the given public keys.
func acceptKeys(t *testing.T, keys ...ssh.PublicKey) string {
	return server(t, &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			for _, a := range keys {
				if string(a.Marshal()) == string(k.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("no")
		},
	})
}

func TestHeadlessSkipsEncryptedKey(t *testing.T) {
	dir := t.TempDir()
	enc, encPath := sshdtest.NewKey(t, dir, "id_enc", "pass")
	plain, plainPath := sshdtest.NewKey(t, dir, "id_plain", "")
	// Both accepted: headless must not fail on the encrypted one but go on
	// to the plain one.
	addr := acceptKeys(t, enc.PublicKey(), plain.PublicKey())
	if err := dialWith(t, addr, Config{Hop: localHop(addr, encPath, plainPath), Prompter: api.Headless{}}); err != nil {
		t.Fatal(err)
	}
	// Only the encrypted one, headless: an auth failure, not a hang.
	addr = acceptKeys(t, enc.PublicKey())
	if err := dialWith(t, addr, Config{Hop: localHop(addr, encPath)}); !errors.Is(err, api.ErrAuth) {
		t.Fatalf("headless, encrypted key only: %v", err)
	}
}

func TestConcurrentConnectionsAskOnce(t *testing.T) {
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_enc", "pass")
	addr := acceptKeys(t, k.PublicKey())
	p := &scripted{t: t, passphrases: []string{"pass"}}
	cache := NewCache()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := dialWith(t, addr, Config{Hop: localHop(addr, path), Prompter: p, Cache: cache}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p.passCount() != 1 {
		t.Errorf("asked %d times", p.passCount())
	}
}

func TestCacheNotUsedForChangedFile(t *testing.T) {
	dir := t.TempDir()
	_, path := sshdtest.NewKey(t, dir, "id", "one")
	cache := NewCache()
	k1, _ := ssh.ParsePrivateKeyWithPassphrase(mustRead(t, path), []byte("one"))
	addr := acceptKeys(t, k1.PublicKey())
	p := &scripted{t: t, passphrases: []string{"one"}}
	if err := dialWith(t, addr, Config{Hop: localHop(addr, path), Prompter: p, Cache: cache}); err != nil {
		t.Fatal(err)
	}
	// A new key at the same path: the cached signer is not reused.
	k2, _ := sshdtest.NewKey(t, dir, "id", "two")
	addr2 := acceptKeys(t, k2.PublicKey())
	p.passphrases = []string{"two"}
	if err := dialWith(t, addr2, Config{Hop: localHop(addr2, path), Prompter: p, Cache: cache}); err != nil {
		t.Fatal(err)
	}
	if p.passCount() != 2 {
		t.Errorf("asked %d times, want 2", p.passCount())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPassphraseRefusedFallsThrough(t *testing.T) {
	// The prompter refuses (Esc in the TUI): publickey fails with a KeyError,
	// and the error says which file.
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_enc", "pass")
	addr := acceptKeys(t, k.PublicKey())
	p := &scripted{t: t} // no passphrases scripted: it errors
	err := dialWith(t, addr, Config{Hop: localHop(addr, path), Prompter: p})
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
}

func TestAsAuthError(t *testing.T) {
	if AsAuthError("h", nil) != nil {
		t.Error("nil not kept")
	}
	other := io.ErrUnexpectedEOF
	if AsAuthError("h", other) != other {
		t.Error("unrelated error changed")
	}
	raw := fmt.Errorf("ssh: handshake failed: %w", errors.New("ssh: unable to authenticate, attempted methods [none publickey keyboard-interactive], no supported methods remain"))
	err := AsAuthError("hop 1 (vps 10.0.0.1:22)", raw)
	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, api.ErrAuth) {
		t.Fatalf("not converted: %v", err)
	}
	if !slices.Equal(ae.Methods, []string{"none", "publickey", "keyboard-interactive"}) || ae.Err != raw {
		t.Errorf("%+v", ae)
	}
	if got, want := err.Error(), "hop 1 (vps 10.0.0.1:22): authentication failed (tried none, publickey, keyboard-interactive)"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if AsAuthError("x", err) != err {
		t.Error("AuthError converted twice")
	}
}

func TestAgentSocket(t *testing.T) {
	env := map[string]string{"SSH_AUTH_SOCK": "/run/agent.sock", "HOME": "/home/u", "MYSOCK": "/tmp/my.sock"}
	getenv := func(k string) string { return env[k] }
	for in, want := range map[string]string{
		"":              "/run/agent.sock",
		"SSH_AUTH_SOCK": "/run/agent.sock",
		"none":          "",
		"$MYSOCK":       "/tmp/my.sock",
		"${MYSOCK}":     "/tmp/my.sock",
		"~/a.sock":      filepath.Join("/home/u", "a.sock"),
		"/abs.sock":     "/abs.sock",
	} {
		a := &authn{cfg: Config{Hop: profile.Hop{IdentityAgent: in}}, getenv: getenv}
		if got := a.agentSocket(); got != want {
			t.Errorf("IdentityAgent %q: %q, want %q", in, got, want)
		}
	}
}

func TestUnreachableAgentIsNotFatal(t *testing.T) {
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id", "")
	addr := acceptKeys(t, k.PublicKey())
	hop := localHop(addr, path)
	hop.IdentityAgent = filepath.Join(dir, "no-such.sock")
	log, buf := newLogger()
	if err := dialWith(t, addr, Config{Hop: hop, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "ssh-agent not reachable") {
		t.Errorf("log:\n%s", buf.String())
	}
}

func TestHeadlessEncryptedKeyExplained(t *testing.T) {
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	enc, encPath := sshdtest.NewKey(t, sshDir, "id_ed25519", "pass")
	addr := acceptKeys(t, enc.PublicKey())
	getenv := func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	hop := localHop(addr, encPath)
	for _, pr := range []api.Prompter{nil, api.Headless{}} {
		au := Prepare(context.Background(), Config{Hop: hop, Prompter: pr, Getenv: getenv})
		_, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
			User: hop.User, Auth: au.Methods(), Timeout: 10 * time.Second,
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), // the host key is not under test here
		})
		au.Close()
		if err == nil {
			t.Fatalf("prompter %T: logged in with an encrypted key and nobody to ask", pr)
		}
		err = au.Failure(hop.String(), err)
		var ae *AuthError
		var ke *KeyError
		if !errors.As(err, &ae) || !errors.As(err, &ke) || !errors.Is(err, api.ErrAuth) || !errors.Is(err, api.ErrNoPrompter) {
			t.Fatalf("prompter %T: %T %v: want an AuthError carrying a KeyError wrapping ErrNoPrompter", pr, err, err)
		}
		if ke.File != "~/.ssh/id_ed25519" {
			t.Errorf("KeyError.File %q, want ~/.ssh/id_ed25519", ke.File)
		}
		want := "key ~/.ssh/id_ed25519 is encrypted and there is no terminal to ask for its passphrase: load it into ssh-agent, or run kuguri once in a terminal"
		if ke.Error() != want {
			t.Errorf("KeyError %q\nwant     %q", ke.Error(), want)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, hop.String()+": authentication failed (tried ") || !strings.HasSuffix(msg, "): "+want) {
			t.Errorf("message %q", msg)
		}
	}

	// A plain key that is simply not accepted: no encrypted key was left
	// out, so nothing is said about passphrases.
	_, plainPath := sshdtest.NewKey(t, t.TempDir(), "id_plain", "")
	au := Prepare(context.Background(), Config{Hop: localHop(addr, plainPath), Getenv: getenv})
	_, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "alice", Auth: au.Methods(), Timeout: 10 * time.Second, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	au.Close()
	err = au.Failure("", err)
	var ke *KeyError
	if !errors.Is(err, api.ErrAuth) || errors.As(err, &ke) || errors.Is(err, api.ErrNoPrompter) {
		t.Fatalf("plain key refused: %v", err)
	}
	// Non-auth errors pass through.
	if au.Failure("", io.ErrUnexpectedEOF) != io.ErrUnexpectedEOF {
		t.Error("a network error was changed")
	}
}
