package sshdtest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// keySigner is an ssh.Signer that remembers its private key, so that a host
// key can be written to a file for sshd and reused across servers.
type keySigner struct {
	ssh.AlgorithmSigner
	priv crypto.PrivateKey
}

func (k *keySigner) privateKey() crypto.PrivateKey { return k.priv }

type privateKeyHolder interface{ privateKey() crypto.PrivateKey }

func newKeySigner(tb testing.TB, priv crypto.PrivateKey) ssh.Signer {
	tb.Helper()
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatalf("sshdtest: signer: %v", err)
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		tb.Fatalf("sshdtest: signer %T is not an ssh.AlgorithmSigner", s)
	}
	return &keySigner{AlgorithmSigner: as, priv: priv}
}

// NewHostKey returns a fresh ed25519 signer usable as Options.HostKey.
// Signers returned by NewHostKey, NewKey, NewRSAKey and Server.HostSigner
// carry their private key and can be written to an sshd HostKey file.
func NewHostKey(tb testing.TB) ssh.Signer {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("sshdtest: ed25519: %v", err)
	}
	return newKeySigner(tb, priv)
}

// NewKey generates an ed25519 key, writes it in OpenSSH format to dir/name
// (mode 0600, encrypted when passphrase is not empty) and its public half to
// dir/name.pub, and returns the signer and the private key's path.
func NewKey(tb testing.TB, dir, name, passphrase string) (ssh.Signer, string) {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("sshdtest: ed25519: %v", err)
	}
	return writeKey(tb, dir, name, passphrase, priv)
}

// NewRSAKey is NewKey for a 2048-bit RSA key (for rsa-sha2-* tests).
func NewRSAKey(tb testing.TB, dir, name, passphrase string) (ssh.Signer, string) {
	tb.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("sshdtest: rsa: %v", err)
	}
	return writeKey(tb, dir, name, passphrase, priv)
}

func writeKey(tb testing.TB, dir, name, passphrase string, priv crypto.PrivateKey) (ssh.Signer, string) {
	tb.Helper()
	path := filepath.Join(dir, name)
	writePrivateKey(tb, path, name, passphrase, priv)
	signer := newKeySigner(tb, priv)
	pub := ssh.MarshalAuthorizedKey(signer.PublicKey())
	pub = append(pub[:len(pub)-1], []byte(" "+name+"\n")...)
	if err := os.WriteFile(path+".pub", pub, 0o600); err != nil {
		tb.Fatalf("sshdtest: write %s.pub: %v", path, err)
	}
	return signer, path
}

func writePrivateKey(tb testing.TB, path, comment, passphrase string, priv crypto.PrivateKey) {
	tb.Helper()
	var (
		block *pem.Block
		err   error
	)
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, comment)
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, comment, []byte(passphrase))
	}
	if err != nil {
		tb.Fatalf("sshdtest: marshal key %s: %v", path, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatalf("sshdtest: write key: %v", err)
	}
	// WriteFile keeps the mode of an existing file; make sure it is 0600.
	if err := os.Chmod(path, 0o600); err != nil {
		tb.Fatalf("sshdtest: chmod key: %v", err)
	}
}

// WriteKnownHosts writes lines (for example Server.KnownHostsLine()) to path,
// one per line, replacing the file.
func WriteKnownHosts(tb testing.TB, path string, lines ...string) {
	tb.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(l, "\n"))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatalf("sshdtest: write known_hosts %s: %v", path, err)
	}
}
