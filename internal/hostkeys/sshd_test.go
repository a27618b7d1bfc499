package hostkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/tunnel/api"
)

// writeHostKey writes priv as an OpenSSH private key file sshd can use as an
// extra HostKey.
func writeHostKey(t *testing.T, path string, priv crypto.PrivateKey) ssh.PublicKey {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

// TestRealSSHDKeyTypeTrap is golang/go#29286 against OpenSSH: sshd holds
// ed25519, ecdsa and rsa host keys; known_hosts holds one of them; the
// checker's HostKeyAlgorithms make sshd present that one, so the connection
// is accepted, and never reported as a changed key.
func TestRealSSHDKeyTypeTrap(t *testing.T) {
	sshdtest.Require(t)
	dir := t.TempDir()
	ecPath, rsaPath := filepath.Join(dir, "host_ecdsa"), filepath.Join(dir, "host_rsa")
	ecPub := writeHostKey(t, ecPath, ecKeyPriv(t))
	rsaPub := writeHostKey(t, rsaPath, rsaKeyPriv(t))
	srv := sshdtest.Start(t, sshdtest.Options{
		Name:        "trap",
		ExtraConfig: []string{`HostKey "` + ecPath + `"`, `HostKey "` + rsaPath + `"`},
	})
	name := knownhosts.Normalize(srv.Addr)

	cases := []struct {
		name string
		key  ssh.PublicKey
	}{
		{"ed25519 known", srv.HostKey},
		{"ecdsa known", ecPub},
		{"rsa known", rsaPub},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			writeFile(t, kh, khLine(name, tc.key)+"\n")
			c := newChecker(t, Config{Files: []string{kh}, Strict: "yes", Hop: 1, HopName: "trap"})
			var presented ssh.PublicKey
			cb := c.Callback()
			client, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{
				User: srv.User,
				HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error {
					presented = k
					return cb(h, r, k)
				},
				HostKeyAlgorithms: c.HostKeyAlgorithms(srv.Addr),
				Timeout:           15 * time.Second,
			})
			if client != nil {
				client.Close()
			}
			// No client key is authorized: the handshake passes host-key
			// checking and then fails authentication.
			if err == nil || errors.Is(err, api.ErrHostKey) {
				t.Fatalf("want an auth failure after an accepted host key, got %v\n%s", err, srv.Log())
			}
			if presented == nil || !keysEqual(presented, tc.key) {
				t.Fatalf("server presented %v, want the known key", presented)
			}
		})
	}

	// Without HostKeyAlgorithms x/crypto prefers ecdsa: the stored ed25519
	// key must not make that look like a changed key.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, khLine(name, srv.HostKey)+"\n")
	c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	_, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{User: srv.User, HostKeyCallback: c.Callback(), Timeout: 15 * time.Second})
	var ch *ChangedKeyError
	if errors.As(err, &ch) {
		t.Fatalf("false changed-key report: %v", err)
	}
	wantUnknown(t, err)
}

func ecKeyPriv(t *testing.T) crypto.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKeyPriv(t *testing.T) crypto.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
