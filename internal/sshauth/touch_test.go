package sshauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/profile"
)

// skSigner stands in for a FIDO security key held by ssh-agent: its public
// key is a real sk-ssh-ed25519 key; signing needs the hardware, so it only
// returns a placeholder.
type skSigner struct{ pub ssh.PublicKey }

func (s skSigner) PublicKey() ssh.PublicKey { return s.pub }
func (s skSigner) Sign(io.Reader, []byte) (*ssh.Signature, error) {
	return &ssh.Signature{Format: s.pub.Type()}, nil
}

func newSKSigner(t *testing.T) skSigner {
	t.Helper()
	pk, _, _ := ed25519.GenerateKey(rand.Reader)
	wire := ssh.Marshal(struct {
		Name        string
		KeyBytes    []byte
		Application string
	}{"sk-ssh-ed25519@openssh.com", pk, "ssh:"})
	pub, err := ssh.ParsePublicKey(wire)
	if err != nil {
		t.Fatal(err)
	}
	return skSigner{pub}
}

// TestSecurityKeyTouchNoted: a login signed by a security key is reported
// as needing a touch on every reconnect; a plain key's is not.
func TestSecurityKeyTouchNoted(t *testing.T) {
	sk := newSKSigner(t)
	if !isSecurityKey(sk.PublicKey()) {
		t.Fatalf("%s not seen as a security key", sk.PublicKey().Type())
	}
	plain, _ := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if isSecurityKey(plain.PublicKey()) {
		t.Fatal("ed25519 seen as a security key")
	}

	a := &authn{cfg: Config{Hop: profile.Hop{Name: "vps"}}, ids: nil}
	au := &Auth{a: a}
	if note := au.Succeeded(); note != "" {
		t.Fatalf("note before any signature: %q", note)
	}
	s := &touchSigner{Signer: sk, a: a}
	if _, err := s.Sign(rand.Reader, []byte("session")); err != nil {
		t.Fatal(err)
	}
	if note := au.Succeeded(); !strings.Contains(note, "security key") || !strings.Contains(note, "touch") || !strings.HasPrefix(note, "vps: ") {
		t.Fatalf("note = %q, want the touch explained for hop vps", note)
	}
}
