package securitytest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

// TestListenersBindLoopback: a forward binds loopback unless the profile says
// allow_non_loopback; a wildcard bind without it is refused at load time.
func TestListenersBindLoopback(t *testing.T) {
	dir := t.TempDir()
	signer, err := ssh.NewSignerFromKey(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
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
	keyFile := writeKey(t, dir)
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(ln.Addr().String())}, srv.HostKey())+"\n"), 0o600)
	sshConfig := filepath.Join(dir, "ssh_config")
	os.WriteFile(sshConfig, nil, 0o600)
	port := ln.Addr().(*net.TCPAddr).Port

	load := func(forwards string) (*profile.Config, error) {
		file := filepath.Join(dir, "config.yaml")
		os.WriteFile(file, []byte(fmt.Sprintf("profiles:\n  vps:\n    host: 127.0.0.1\n    port: %d\n    user: me\n    identity_files: [%s]\n    known_hosts: %s\n    forwards:\n%s",
			port, keyFile, kh, forwards)), 0o600)
		return profile.Load(profile.LoadOptions{File: file, SSHConfig: sshConfig, Home: dir, Getenv: func(string) string { return "" }})
	}

	for _, spec := range []string{
		"      - {name: a, local: \"0.0.0.0:0\", remote: \"127.0.0.1:9\"}\n",
		"      - {name: a, local: \"*:0\", remote: \"127.0.0.1:9\"}\n",
		"      - \"0.0.0.0:0:127.0.0.1:9\"\n",
		"      - {name: a, type: dynamic, local: \"[::]:0\"}\n",
	} {
		_, err := load(spec)
		if !errors.Is(err, profile.ErrInvalid) || !strings.Contains(err.Error(), "allow_non_loopback") {
			t.Errorf("non-loopback bind %q loaded: %v; want ErrInvalid naming allow_non_loopback", strings.TrimSpace(spec), err)
		}
	}

	listenOf := func(cfg *profile.Config) string {
		p, err := runManager(t, cfg, tunnel.Options{}).ready()
		if err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if p.State != api.Up {
			t.Fatalf("state %s", p.State)
		}
		return p.Forwards[0].Listen
	}

	cfg, err := load("      - {name: a, local: 0, remote: \"127.0.0.1:9\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := listenOf(cfg); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("default bind = %s, want loopback", got)
	}
	cfg, err = load("      - {name: a, local: \"0.0.0.0:0\", remote: \"127.0.0.1:9\", allow_non_loopback: true}\n")
	if err != nil {
		t.Fatalf("allow_non_loopback: %v", err)
	}
	if got := listenOf(cfg); !strings.HasPrefix(got, "0.0.0.0:") {
		t.Errorf("allowed wildcard bind = %s, want 0.0.0.0", got)
	}
}
