package sshauth

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/tunnel/api"
)

// maxPassphraseTries is how often a wrong passphrase is asked again.
const maxPassphraseTries = 3

// identity is one IdentityFile.
type identity struct {
	path string // expanded, as configured
	abs  string // cache key
	pub  ssh.PublicKey
	// Exactly one of the following holds a key to sign with; none when the
	// file gave only a public key (useful to pick agent keys).
	plain     ssh.Signer // unencrypted private key
	encrypted []byte     // encrypted private key file contents
	certs     []*ssh.Certificate
}

func sameKey(a, b ssh.PublicKey) bool {
	return a != nil && b != nil && bytes.Equal(a.Marshal(), b.Marshal())
}

// readPublic parses an authorized_keys-format file: a public key or a
// certificate.
func readPublic(path string) (ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	return pub, err
}

// readCert reads a user certificate file.
func readCert(path string) (*ssh.Certificate, error) {
	pub, err := readPublic(path)
	if err != nil {
		return nil, err
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("certificate file %s holds a plain %s key, not a certificate", path, pub.Type())
	}
	if cert.CertType != ssh.UserCert {
		return nil, fmt.Errorf("certificate file %s holds a host certificate", path)
	}
	return cert, nil
}

// loadIdentities reads the hop's identity and certificate files. Problems
// are logged (never with key material) and the file skipped.
func (a *authn) loadIdentities() {
	hop := a.cfg.Hop
	for _, p := range hop.CertificateFiles {
		p = a.expand(p)
		cert, err := readCert(p)
		if err != nil {
			a.log.Warn("skipping certificate file", "file", p, "err", err)
			continue
		}
		a.certs = append(a.certs, cert)
	}
	for _, p := range hop.IdentityFiles {
		if id := a.loadIdentity(a.expand(p)); id != nil {
			a.ids = append(a.ids, id)
		}
	}
}

func (a *authn) loadIdentity(path string) *identity {
	id := &identity{path: path, abs: path}
	if abs, err := filepath.Abs(path); err == nil {
		id.abs = abs
	}
	if pub, err := readPublic(path + ".pub"); err == nil {
		id.pub = pub
	}
	if err := keyPerms(path); err != nil {
		// As OpenSSH: a private key others can read is not used; its public
		// half may still pick the agent's copy.
		ke := &KeyError{File: a.display(path), Err: err}
		a.log.Warn("not using identity file", "file", ke.File, "err", err)
		a.refused = append(a.refused, ke)
		if id.pub != nil {
			return id
		}
		return nil
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && id.pub != nil:
		// Only the public half: it still selects an agent key.
		a.log.Debug("identity file has only its public key", "file", path)
		return id
	case errors.Is(err, fs.ErrNotExist) && a.cfg.Hop.IdentityFilesDefault:
		return nil
	case err != nil:
		a.log.Warn("skipping identity file", "file", path, "err", err)
		return nil
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
		// IdentityFile names a public key (~/.ssh/id.pub).
		if c, ok := pub.(*ssh.Certificate); ok {
			id.certs = append(id.certs, c)
			pub = c.Key
		}
		id.pub = pub
		return id
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		id.plain = signer
		id.pub = signer.PublicKey()
	case errors.As(err, &missing):
		id.encrypted = data
		if id.pub == nil {
			id.pub = missing.PublicKey // nil for PEM keys without a .pub
		}
	default:
		a.log.Warn("skipping identity file: cannot parse it", "file", path, "err", err)
		return nil
	}
	if c, err := readCert(path + "-cert.pub"); err == nil {
		id.certs = append(id.certs, c)
	} else if !errors.Is(err, fs.ErrNotExist) {
		a.log.Warn("skipping certificate", "file", path+"-cert.pub", "err", err)
	}
	return id
}

// certsFor returns the certificates (from CertificateFiles and the
// identity's own) that certify pub.
func (a *authn) certsFor(pub ssh.PublicKey, own []*ssh.Certificate) []*ssh.Certificate {
	var out []*ssh.Certificate
	for _, c := range append(append([]*ssh.Certificate(nil), own...), a.certs...) {
		if sameKey(c.Key, pub) {
			out = append(out, c)
		}
	}
	return out
}

// signers is the PublicKeysCallback: every key to offer, in order. The agent
// is asked for its keys on each call.
func (a *authn) signers() ([]ssh.Signer, error) {
	var out []ssh.Signer
	seen := make(map[string]bool)
	add := func(s ssh.Signer) {
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			if isSecurityKey(s.PublicKey()) {
				s = &touchSigner{Signer: s, a: a}
			}
			out = append(out, s)
		}
	}
	offer := func(s ssh.Signer, own []*ssh.Certificate) {
		for _, c := range a.certsFor(s.PublicKey(), own) {
			cs, err := ssh.NewCertSigner(c, s)
			if err != nil {
				a.log.Warn("skipping certificate", "key", ssh.FingerprintSHA256(c.Key), "err", err)
				continue
			}
			add(cs)
		}
		add(s)
	}

	if a.agent != nil {
		agentSigners, err := a.agent.Signers()
		if err != nil {
			a.log.Warn("ssh-agent: cannot list keys", "err", err)
		}
		for _, s := range agentSigners {
			base := s.PublicKey()
			if c, ok := base.(*ssh.Certificate); ok {
				base = c.Key
			}
			if a.cfg.Hop.IdentitiesOnly && !a.configured(base) {
				continue
			}
			if _, isCert := s.PublicKey().(*ssh.Certificate); isCert {
				add(s)
				continue
			}
			offer(s, a.ownCerts(base))
		}
	}

	for _, id := range a.ids {
		var s ssh.Signer
		switch {
		case id.plain != nil:
			s = id.plain
		case id.encrypted == nil:
			continue // public key only
		case id.pub != nil && seen[string(id.pub.Marshal())]:
			continue // the agent holds it: no passphrase needed
		default:
			if cached := a.cfg.Cache.lookup(id.abs, id.pub); cached != nil {
				s = cached
				break
			}
			if !canAsk(a.cfg.Prompter) {
				a.log.Info("not offering encrypted key: no one to ask for its passphrase", "file", id.path)
				a.skip(id)
				continue
			}
			if id.pub == nil {
				// A PEM key without .pub: its public key is only known
				// after decryption, so ask now.
				d, err := a.decrypt(id)
				if err != nil {
					a.log.Warn("not offering identity file", "file", id.path, "err", err)
					continue
				}
				s = d
				break
			}
			s = &lazySigner{pub: id.pub, load: func() (ssh.Signer, error) { return a.decrypt(id) }}
		}
		offer(s, id.certs)
	}
	return out, nil
}

// configured reports whether pub is one of the identity files' keys.
func (a *authn) configured(pub ssh.PublicKey) bool {
	for _, id := range a.ids {
		if sameKey(id.pub, pub) {
			return true
		}
	}
	return false
}

// ownCerts returns the certificates of the identity files holding pub.
func (a *authn) ownCerts(pub ssh.PublicKey) []*ssh.Certificate {
	var out []*ssh.Certificate
	for _, id := range a.ids {
		if sameKey(id.pub, pub) {
			out = append(out, id.certs...)
		}
	}
	return out
}

// KeyError is an identity file that could not be used: the passphrase was
// refused, wrong maxPassphraseTries times, or nobody could be asked (then
// Err wraps api.ErrNoPrompter, and the key may not have been offered at
// all: see Auth.Failure). It never carries the passphrase.
type KeyError struct {
	File string // as shown to people: ~ stands for the home directory
	Err  error
}

func (e *KeyError) Error() string {
	if errors.Is(e.Err, api.ErrNoPrompter) {
		return "key " + e.File + " is encrypted and there is no terminal to ask for its passphrase: load it into ssh-agent, or run kuguri once in a terminal"
	}
	return "identity file " + e.File + ": " + e.Err.Error()
}

func (e *KeyError) Unwrap() error { return e.Err }

var errWrongPassphrase = fmt.Errorf("wrong passphrase (asked %d times)", maxPassphraseTries)

// decrypt returns id's decrypted signer, asking for the passphrase (once per
// run thanks to the Cache, up to maxPassphraseTries times when wrong).
func (a *authn) decrypt(id *identity) (ssh.Signer, error) {
	e := a.cfg.Cache.entry(id.abs)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.signer != nil && (id.pub == nil || sameKey(e.signer.PublicKey(), id.pub)) {
		return e.signer, nil
	}
	if !canAsk(a.cfg.Prompter) {
		return nil, &KeyError{File: a.display(id.path), Err: fmt.Errorf("key is encrypted: %w", api.ErrNoPrompter)}
	}
	for try := range maxPassphraseTries {
		pass, err := a.cfg.Prompter.Passphrase(a.ctx, api.PassphraseQuestion{
			Profile: a.cfg.Profile, HopName: a.cfg.Hop.Name, KeyFile: id.path, Retry: try > 0,
		})
		if err != nil {
			wipe(pass)
			return nil, &KeyError{File: a.display(id.path), Err: fmt.Errorf("passphrase not given: %w", err)}
		}
		s, err := ssh.ParsePrivateKeyWithPassphrase(id.encrypted, pass)
		wipe(pass)
		if err == nil {
			if id.pub != nil && !sameKey(s.PublicKey(), id.pub) {
				return nil, &KeyError{File: a.display(id.path), Err: errors.New("private key does not match its .pub file")}
			}
			e.signer = s
			a.log.Info("identity file decrypted", "file", id.path)
			return s, nil
		}
		if !errors.Is(err, x509.IncorrectPasswordError) {
			return nil, &KeyError{File: a.display(id.path), Err: err}
		}
		a.log.Warn("wrong passphrase", "file", id.path, "try", try+1)
	}
	return nil, &KeyError{File: a.display(id.path), Err: errWrongPassphrase}
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// lazySigner offers an encrypted key's public half and decrypts the key
// only when asked to sign, which x/crypto does only after the server has
// said it accepts the key.
type lazySigner struct {
	pub  ssh.PublicKey
	load func() (ssh.Signer, error)
}

var _ ssh.AlgorithmSigner = (*lazySigner)(nil)

func (l *lazySigner) PublicKey() ssh.PublicKey { return l.pub }

func (l *lazySigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s, err := l.load()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (l *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s, err := l.load()
	if err != nil {
		return nil, err
	}
	if as, ok := s.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	if algorithm != "" && algorithm != s.PublicKey().Type() {
		return nil, fmt.Errorf("ssh: key %s cannot sign with %s", s.PublicKey().Type(), algorithm)
	}
	return s.Sign(rand, data)
}

// isSecurityKey says whether pub (or the key a certificate certifies) lives
// on a FIDO security key (sk-ssh-ed25519@openssh.com, sk-ecdsa-...): every
// signature needs a touch.
func isSecurityKey(pub ssh.PublicKey) bool {
	if c, ok := pub.(*ssh.Certificate); ok {
		pub = c.Key
	}
	return strings.HasPrefix(pub.Type(), "sk-")
}

// touchSigner notes that a security key was asked to sign: the login then
// needed a touch, which no reconnect can replay. x/crypto asks for a
// signature only for a key the server accepted.
type touchSigner struct {
	ssh.Signer
	a *authn
}

func (t *touchSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	t.a.mu.Lock()
	t.a.touchedKey = true
	t.a.mu.Unlock()
	return t.Signer.Sign(rand, data)
}
