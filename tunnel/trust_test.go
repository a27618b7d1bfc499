package tunnel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// acceptor answers every host-key question with one decision.
type acceptor struct {
	api.Headless
	decision api.HostKeyDecision
	asked    int
}

func (a *acceptor) HostKey(context.Context, api.HostKeyQuestion) (api.HostKeyDecision, error) {
	a.asked++
	return a.decision, nil
}

func TestTrustReport(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(dir, "id")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	signer, _ := ssh.NewSignerFromKey(priv)
	srv, err := sshserver.New(sshserver.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	kh := filepath.Join(dir, "known_hosts")
	sshCfg := filepath.Join(dir, "ssh_config")
	os.WriteFile(sshCfg, nil, 0o600)
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("profiles:\n  vps:\n    host: 127.0.0.1\n    port: %d\n    user: me\n    identity_files: [%s]\n    known_hosts: %s\n",
		ln.Addr().(*net.TCPAddr).Port, keyFile, kh)), 0o600)
	cfg, err := profile.Load(profile.LoadOptions{File: cfgFile, SSHConfig: sshCfg, Home: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	r, err := cfg.Resolve("vps")
	if err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(srv.HostKey())
	trust := func(d api.HostKeyDecision) (TrustReport, *acceptor, error) {
		a := &acceptor{decision: d}
		rep, err := Trust(context.Background(), r, Options{Prompter: a, Getenv: func(string) string { return "" }})
		return rep, a, err
	}

	rep, a, err := trust(api.Reject)
	if !errors.Is(err, api.ErrHostKey) || a.asked != 1 || rep.Hops[0].Status != TrustRejected || rep.Hops[0].Fingerprint != fp {
		t.Fatalf("rejected: %+v asked %d, %v", rep, a.asked, err)
	}
	rep, _, err = trust(api.AcceptOnce)
	if err != nil || rep.Hops[0].Status != TrustOnce {
		t.Fatalf("accept once: %+v, %v", rep, err)
	}
	if b, _ := os.ReadFile(kh); len(b) != 0 {
		t.Fatalf("accept once wrote known_hosts: %q", b)
	}
	rep, _, err = trust(api.AcceptAndSave)
	if err != nil || rep.Hops[0].Status != TrustSaved || rep.Hops[0].KeyType != "ssh-ed25519" {
		t.Fatalf("accept and save: %+v, %v", rep, err)
	}
	rep, a, err = trust(api.Reject)
	if err != nil || a.asked != 0 || rep.Hops[0].Status != TrustKnown || rep.Hops[0].Fingerprint != fp {
		t.Fatalf("known: %+v asked %d, %v", rep, a.asked, err)
	}

	// A changed key: refused without asking.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _ := ssh.NewPublicKey(other)
	line := fmt.Sprintf("[127.0.0.1]:%d %s", ln.Addr().(*net.TCPAddr).Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherPub))))
	os.WriteFile(kh, []byte(line+"\n"), 0o600)
	rep, a, err = trust(api.AcceptAndSave)
	if !errors.Is(err, api.ErrHostKey) || a.asked != 0 || rep.Hops[0].Status != TrustRefused {
		t.Fatalf("changed: %+v asked %d, %v", rep, a.asked, err)
	}
	if b, _ := os.ReadFile(kh); string(b) != line+"\n" {
		t.Fatalf("changed key: known_hosts rewritten: %q", b)
	}
}
