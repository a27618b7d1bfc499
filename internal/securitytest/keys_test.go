package securitytest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

var testKey ed25519.PrivateKey

func mustKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	if testKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		testKey = priv
	}
	return testKey
}

func writeKey(t *testing.T, dir string) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(mustKey(t), "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
