package sshauth

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

func hopFor(srv *sshdtest.Server, files ...string) profile.Hop {
	return profile.Hop{
		Name: "vps", HostName: "127.0.0.1", Port: srv.Port, User: srv.User,
		IdentityFiles: files, IdentityAgent: "none",
	}
}

// connect authenticates to srv with Methods(cfg) and returns the
// handshake's error as the engine would report it.
func connect(t *testing.T, srv *sshdtest.Server, cfg Config) error {
	t.Helper()
	methods, closer, err := Methods(cfg)
	if err != nil {
		t.Fatalf("Methods: %v", err)
	}
	defer closer()
	client, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{
		User:            cfg.Hop.User,
		Auth:            methods,
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey),
		Timeout:         15 * time.Second,
	})
	if err != nil {
		return AsAuthError(cfg.Hop.String(), err)
	}
	// Prove the session works.
	sess, err := client.NewSession()
	if err == nil {
		sess.Close()
	}
	client.Close()
	return err
}

func mustConnect(t *testing.T, srv *sshdtest.Server, cfg Config) {
	t.Helper()
	if err := connect(t, srv, cfg); err != nil {
		t.Fatalf("connect: %v\nsshd log:\n%s", err, srv.Log())
	}
}

func TestSSHDPlainKeyFile(t *testing.T) {
	sshdtest.Require(t)
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_ed25519", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{k.PublicKey()}})
	log, _ := newLogger()
	mustConnect(t, srv, Config{Profile: "p", Hop: hopFor(srv, path), Logger: log})
}

func TestSSHDEncryptedKeyAskedOnce(t *testing.T) {
	sshdtest.Require(t)
	const secret = "correct horse battery staple"
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_enc", secret)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{k.PublicKey()}})
	log, buf := newLogger()
	p := &scripted{t: t, passphrases: []string{"wrong guess", secret}}
	cache := NewCache()
	cfg := Config{Profile: "p", Hop: hopFor(srv, path), Prompter: p, Cache: cache, Logger: log}
	mustConnect(t, srv, cfg)
	mustConnect(t, srv, cfg) // a reconnect: served from the cache

	if p.passCount() != 2 {
		t.Fatalf("asked %d times, want 2 (one wrong, one right) across both connections", p.passCount())
	}
	if p.passAsked[0].Retry || !p.passAsked[1].Retry || p.passAsked[0].KeyFile != path || p.passAsked[0].Profile != "p" || p.passAsked[0].HopName != "vps" {
		t.Errorf("questions: %+v", p.passAsked)
	}
	p.checkWiped(t)
	if strings.Contains(buf.String(), secret) || strings.Contains(buf.String(), "wrong guess") {
		t.Errorf("passphrase in the log:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "wrong passphrase") {
		t.Errorf("log does not mention the wrong passphrase:\n%s", buf.String())
	}
}

func TestSSHDWrongPassphraseThreeTimes(t *testing.T) {
	sshdtest.Require(t)
	const secret = "the real one"
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_enc", secret)
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{k.PublicKey()}})
	log, buf := newLogger()
	p := &scripted{t: t, passphrases: []string{"guess-one", "guess-two", "guess-three", secret}}
	err := connect(t, srv, Config{Profile: "p", Hop: hopFor(srv, path), Prompter: p, Cache: NewCache(), Logger: log})
	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, api.ErrAuth) || api.KindOf(err) != api.KindAuth {
		t.Fatalf("want AuthError, got %T %v", err, err)
	}
	if p.passCount() != maxPassphraseTries {
		t.Errorf("asked %d times, want %d", p.passCount(), maxPassphraseTries)
	}
	msg := err.Error()
	if !strings.Contains(msg, "wrong passphrase") || !strings.Contains(msg, path) || !strings.Contains(msg, "vps (127.0.0.1:") {
		t.Errorf("message %q", msg)
	}
	for _, g := range []string{"guess-one", "guess-two", "guess-three", secret} {
		if strings.Contains(msg, g) || strings.Contains(buf.String(), g) {
			t.Errorf("a passphrase leaked into the error or the log")
		}
	}
	p.checkWiped(t)
}

func TestSSHDNoPromptForUnacceptedEncryptedKey(t *testing.T) {
	sshdtest.Require(t)
	for _, withPub := range []bool{true, false} {
		dir := t.TempDir()
		_, encPath := sshdtest.NewKey(t, dir, "id_enc", "never asked")
		if !withPub {
			// OpenSSH-format keys carry their public half unencrypted.
			if err := os.Remove(encPath + ".pub"); err != nil {
				t.Fatal(err)
			}
		}
		good, goodPath := sshdtest.NewKey(t, dir, "id_good", "")
		srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{good.PublicKey()}})
		p := &scripted{t: t, noPass: true}
		mustConnect(t, srv, Config{Hop: hopFor(srv, encPath, goodPath), Prompter: p, Cache: NewCache()})
		if p.passCount() != 0 {
			t.Errorf("withPub=%v: asked for the passphrase of a key the server does not accept", withPub)
		}
	}
}

func TestSSHDAgentWithEncryptedKey(t *testing.T) {
	sshdtest.Require(t)
	sock := sshdtest.StartAgent(t)
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_agent", "agent secret")
	sshdtest.AgentAdd(t, sock, path, "agent secret")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{k.PublicKey()}})

	// Through IdentityAgent, no prompter, no identity files.
	hop := hopFor(srv)
	hop.IdentityAgent = sock
	mustConnect(t, srv, Config{Hop: hop})

	// Through $SSH_AUTH_SOCK (IdentityAgent unset), with the identity file
	// configured too: the agent signs, the passphrase is never asked.
	hop = hopFor(srv, path)
	hop.IdentityAgent = ""
	p := &scripted{t: t, noPass: true}
	mustConnect(t, srv, Config{Hop: hop, Prompter: p, Getenv: func(k string) string {
		if k == "SSH_AUTH_SOCK" {
			return sock
		}
		return ""
	}})

	// IdentityAgent none: no agent, no key, refused.
	hop = hopFor(srv)
	hop.IdentityAgent = "none"
	if err := connect(t, srv, Config{Hop: hop, Getenv: func(string) string { return sock }}); !errors.Is(err, api.ErrAuth) {
		t.Errorf("IdentityAgent none: %v", err)
	}
}

func TestSSHDIdentitiesOnlyFiltersAgent(t *testing.T) {
	sshdtest.Require(t)
	sock := sshdtest.StartAgent(t)
	dir := t.TempDir()
	authorized, aPath := sshdtest.NewKey(t, dir, "id_a", "")
	_, bPath := sshdtest.NewKey(t, dir, "id_b", "")
	sshdtest.AgentAdd(t, sock, aPath, "")
	sshdtest.AgentAdd(t, sock, bPath, "")
	// Only public halves on disk: the keys must come from the agent.
	for _, p := range []string{aPath, bPath} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{authorized.PublicKey()}})

	hop := hopFor(srv, bPath)
	hop.IdentityAgent = sock
	hop.IdentitiesOnly = true
	err := connect(t, srv, Config{Hop: hop})
	if !errors.Is(err, api.ErrAuth) {
		t.Fatalf("IdentitiesOnly with only key B configured: %v (the agent's key A must not be offered)", err)
	}
	hop.IdentityFiles = []string{aPath + ".pub"} // IdentityFile naming the .pub itself
	mustConnect(t, srv, Config{Hop: hop})
	hop.IdentityFiles = []string{bPath}
	hop.IdentitiesOnly = false
	mustConnect(t, srv, Config{Hop: hop})
}

func TestSSHDRSAKeys(t *testing.T) {
	sshdtest.Require(t)
	dir := t.TempDir()
	plain, plainPath := sshdtest.NewRSAKey(t, dir, "id_rsa", "")
	enc, encPath := sshdtest.NewRSAKey(t, dir, "id_rsa_enc", "rsa pass")
	// OpenSSH 9 refuses ssh-rsa (SHA-1) signatures by default: success means
	// rsa-sha2-* was used, both for a file signer and the lazy one.
	srv := sshdtest.Start(t, sshdtest.Options{
		AuthorizedKeys: []ssh.PublicKey{plain.PublicKey(), enc.PublicKey()},
		ExtraConfig:    []string{"PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256"},
	})
	mustConnect(t, srv, Config{Hop: hopFor(srv, plainPath)})
	p := &scripted{t: t, passphrases: []string{"rsa pass"}}
	mustConnect(t, srv, Config{Hop: hopFor(srv, encPath), Prompter: p, Cache: NewCache()})

	sock := sshdtest.StartAgent(t)
	sshdtest.AgentAdd(t, sock, plainPath, "")
	hop := hopFor(srv)
	hop.IdentityAgent = sock
	mustConnect(t, srv, Config{Hop: hop})
}

// userCert certifies key for principal, signed by ca, and writes it.
func userCert(t *testing.T, ca ssh.Signer, key ssh.PublicKey, principal, path string) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{
		Key: key, Serial: 7, CertType: ssh.UserCert, KeyId: "test user",
		ValidPrincipals: []string{principal},
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     uint64(time.Now().Add(time.Hour).Unix()),
		Permissions:     ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}},
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, ssh.MarshalAuthorizedKey(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestSSHDCertificates(t *testing.T) {
	sshdtest.Require(t)
	dir := t.TempDir()
	ca, _ := sshdtest.NewKey(t, dir, "ca", "")
	caPub := filepath.Join(dir, "ca.pub")
	// No authorized keys: only certificates from the CA get in.
	srv := sshdtest.Start(t, sshdtest.Options{ExtraConfig: []string{`TrustedUserCAKeys "` + caPub + `"`}})

	t.Run("key-cert.pub next to the key", func(t *testing.T) {
		k, path := sshdtest.NewKey(t, dir, "id_c1", "")
		userCert(t, ca, k.PublicKey(), srv.User, path+"-cert.pub")
		mustConnect(t, srv, Config{Hop: hopFor(srv, path)})
	})
	t.Run("CertificateFile", func(t *testing.T) {
		k, path := sshdtest.NewKey(t, dir, "id_c2", "")
		cf := filepath.Join(dir, "elsewhere-cert.pub")
		userCert(t, ca, k.PublicKey(), srv.User, cf)
		hop := hopFor(srv, path)
		hop.CertificateFiles = []string{cf}
		mustConnect(t, srv, Config{Hop: hop})
	})
	t.Run("encrypted key with certificate", func(t *testing.T) {
		k, path := sshdtest.NewKey(t, dir, "id_c3", "cert pass")
		userCert(t, ca, k.PublicKey(), srv.User, path+"-cert.pub")
		p := &scripted{t: t, passphrases: []string{"cert pass"}}
		mustConnect(t, srv, Config{Hop: hopFor(srv, path), Prompter: p, Cache: NewCache()})
		if p.passCount() != 1 {
			t.Errorf("asked %d times", p.passCount())
		}
	})
	t.Run("agent key with CertificateFile", func(t *testing.T) {
		k, path := sshdtest.NewKey(t, dir, "id_c4", "")
		sock := sshdtest.StartAgent(t)
		sshdtest.AgentAdd(t, sock, path, "")
		cf := filepath.Join(dir, "agent-cert.pub")
		userCert(t, ca, k.PublicKey(), srv.User, cf)
		hop := hopFor(srv)
		hop.IdentityAgent = sock
		hop.CertificateFiles = []string{cf}
		mustConnect(t, srv, Config{Hop: hop})
	})
	t.Run("plain key alone is refused", func(t *testing.T) {
		_, path := sshdtest.NewKey(t, dir, "id_c5", "")
		if err := connect(t, srv, Config{Hop: hopFor(srv, path)}); !errors.Is(err, api.ErrAuth) {
			t.Errorf("want auth failure, got %v", err)
		}
	})
}

func TestSSHDWrongKeyAuthError(t *testing.T) {
	sshdtest.Require(t)
	dir := t.TempDir()
	_, path := sshdtest.NewKey(t, dir, "id_wrong", "")
	other, _ := sshdtest.NewKey(t, dir, "id_other", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{other.PublicKey()}})
	err := connect(t, srv, Config{Hop: hopFor(srv, path)})
	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, api.ErrAuth) {
		t.Fatalf("want AuthError, got %T %v", err, err)
	}
	if !slices.Equal(ae.Methods, []string{"none", "publickey"}) {
		t.Errorf("Methods = %v", ae.Methods)
	}
	if ae.Hop != hopFor(srv).String() || !strings.Contains(err.Error(), "vps (127.0.0.1:") || !strings.Contains(err.Error(), "tried none, publickey") {
		t.Errorf("message %q", err)
	}
}

func TestSSHDMissingIdentityFiles(t *testing.T) {
	sshdtest.Require(t)
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_ok", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{k.PublicKey()}})
	missing := filepath.Join(dir, "id_missing")

	log, buf := newLogger()
	hop := hopFor(srv, missing, path)
	hop.IdentityFilesDefault = true
	mustConnect(t, srv, Config{Hop: hop, Logger: log})
	if strings.Contains(buf.String(), "id_missing") {
		t.Errorf("a missing default identity file was reported:\n%s", buf.String())
	}

	log, buf = newLogger()
	hop.IdentityFilesDefault = false
	mustConnect(t, srv, Config{Hop: hop, Logger: log})
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "id_missing") {
		t.Errorf("a missing configured identity file was not warned about:\n%s", buf.String())
	}
}

// TestSSHDKeyPermissionsTooOpen: like OpenSSH, a private key that others
// can read is not used, and the failure says why.
func TestSSHDKeyPermissionsTooOpen(t *testing.T) {
	sshdtest.Require(t)
	dir := t.TempDir()
	k, path := sshdtest.NewKey(t, dir, "id_ed25519", "")
	os.Remove(path + ".pub")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{k.PublicKey()}})
	try := func() error {
		log, _ := newLogger()
		au := Prepare(t.Context(), Config{Profile: "p", Hop: hopFor(srv, path), Logger: log})
		defer au.Close()
		client, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{
			User: srv.User, Auth: au.Methods(), HostKeyCallback: ssh.FixedHostKey(srv.HostKey), Timeout: 15 * time.Second,
		})
		if err != nil {
			return au.Failure("vps", err)
		}
		client.Close()
		return nil
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	err := try()
	if !errors.Is(err, api.ErrAuth) || !strings.Contains(err.Error(), "too open") || !strings.Contains(err.Error(), "id_ed25519") {
		t.Fatalf("key at 0644: %v; want an auth failure saying the key's permissions are too open", err)
	}
	os.Chmod(path, 0o600)
	if err := try(); err != nil {
		t.Fatalf("key at 0600: %v", err)
	}
}
