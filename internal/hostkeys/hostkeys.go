package hostkeys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/tunnel/api"
)

// Config says how to check one hop.
type Config struct {
	Profile string
	Hop     int    // 1-based, for messages
	HopName string // as written in the profile
	// Files are the known_hosts files to read, in order; missing ones are
	// skipped. Accepted keys are appended to Files[0].
	Files        []string
	HostKeyAlias string
	// Strict is StrictHostKeyChecking: "yes" refuses unknown keys, "ask" and
	// "accept-new" ask the Prompter (accept-new without asking when Prompter
	// is nil is NOT done: kuguri always asks or refuses), "no" is treated as
	// "ask" for unknown keys; a changed key is refused whatever it says.
	Strict   string
	Hash     bool         // HashKnownHosts: write hashed entries
	Prompter api.Prompter // nil or api.Headless refuses unknown keys
	// Logger gets warnings (unparsable known_hosts lines, a failed save of an
	// accepted key). Nil discards them.
	Logger *slog.Logger
}

// Checker verifies one hop's host key. It is safe for concurrent use.
type Checker struct {
	// Set at construction.
	cfg     Config
	log     *slog.Logger
	entries []entry // from cfg.Files, in file then line order

	promptMu sync.Mutex // serializes questions so one answer serves all waiters

	mu       sync.Mutex
	accepted []entry // guarded by mu; keys accepted during this run
}

// New reads the known_hosts files of cfg. Missing files are skipped;
// unreadable ones (permissions, a directory) are an error naming the file.
// Lines that cannot be parsed are skipped with a warning.
func New(cfg Config) (*Checker, error) {
	c := &Checker{cfg: cfg, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	for _, f := range cfg.Files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%sknown_hosts %s: %w", hopPrefix(cfg.Hop, cfg.HopName, ""), f, err)
		}
		es, bad := parseKnownHosts(f, data)
		if bad > 0 {
			c.log.Warn("skipped unparsable known_hosts lines", "file", f, "lines", bad)
		}
		c.entries = append(c.entries, es...)
	}
	return c, nil
}

// lookupName is the name known_hosts is searched for: the HostKeyAlias, or
// the dialled address as OpenSSH writes it ("host" for port 22, else
// "[host]:port"), lower-cased.
func (c *Checker) lookupName(addr string) string {
	if c.cfg.HostKeyAlias != "" {
		return strings.ToLower(c.cfg.HostKeyAlias)
	}
	return strings.ToLower(knownhosts.Normalize(addr))
}

// principal is the name a host certificate must be issued for: the alias,
// or the dialled host without port (as OpenSSH checks it).
func (c *Checker) principal(addr string) string {
	if c.cfg.HostKeyAlias != "" {
		return c.cfg.HostKeyAlias
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// matching returns the entries (from files, then accepted in memory) whose
// patterns match name.
func (c *Checker) matching(name string) []entry {
	var out []entry
	for i := range c.entries {
		if c.entries[i].matches(name) {
			out = append(out, c.entries[i])
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.accepted {
		if c.accepted[i].matches(name) {
			out = append(out, c.accepted[i])
		}
	}
	return out
}

var (
	certAlgos = []string{
		ssh.CertAlgoED25519v01,
		ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
		ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
	}
	plainAlgos = []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	}
)

// algosForKeyType returns the host key algorithms that present a key of
// type t.
func algosForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// HostKeyAlgorithms returns the key algorithms to ask the server for at addr
// (host:port as dialled), preferring the types known_hosts holds for it; nil
// when it holds none (library defaults).
//
// Only the known types are asked for, so a server whose preferred key is of
// another type presents the known one instead of looking changed. An RSA key
// asks for rsa-sha2-512, rsa-sha2-256 and ssh-rsa. A matching
// @cert-authority asks for host certificates first; when no plain key is
// known besides it, the plain algorithms follow so that a server without a
// certificate still gets as far as the unknown-key question.
func (c *Checker) HostKeyAlgorithms(addr string) []string {
	supported := ssh.SupportedAlgorithms().HostKeys
	supported = append(supported, ssh.InsecureAlgorithms().HostKeys...)
	var algos []string
	add := func(as ...string) {
		for _, a := range as {
			if slices.Contains(supported, a) && !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	var haveCA, havePlain bool
	es := c.matching(c.lookupName(addr))
	for _, e := range es {
		if e.mark == markCA {
			haveCA = true
		}
	}
	if haveCA {
		add(certAlgos...)
	}
	for _, e := range es {
		if e.mark == markNone {
			havePlain = true
			add(algosForKeyType(e.key.Type())...)
		}
	}
	if haveCA && !havePlain {
		add(plainAlgos...)
	}
	if len(algos) == 0 {
		return nil
	}
	return algos
}

// Callback is the ssh.HostKeyCallback for this hop. Its errors wrap
// api.ErrHostKey and are *UnknownKeyError, *ChangedKeyError or
// *RevokedKeyError. Questions to the Prompter are not bounded by any
// context; use CallbackContext to bound them.
func (c *Checker) Callback() ssh.HostKeyCallback { return c.CallbackContext(context.Background()) }

// CallbackContext is Callback with ctx passed to the Prompter, so that a
// cancelled connection attempt stops waiting for an answer.
func (c *Checker) CallbackContext(ctx context.Context) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		return c.check(ctx, hostname, remote, key)
	}
}

// Fingerprint returns key's SHA256 fingerprint as OpenSSH prints it
// ("SHA256:..."); for a certificate, the fingerprint of the certified key.
func Fingerprint(key ssh.PublicKey) string {
	if cert, ok := key.(*ssh.Certificate); ok {
		key = cert.Key
	}
	return ssh.FingerprintSHA256(key)
}

func (c *Checker) check(ctx context.Context, addr string, remote net.Addr, key ssh.PublicKey) error {
	name := c.lookupName(addr)
	es := c.matching(name)

	// Revocation first: the key itself, and for a certificate also the key
	// it certifies and the CA that signed it.
	suspects := []ssh.PublicKey{key}
	cert, isCert := key.(*ssh.Certificate)
	if isCert {
		suspects = append(suspects, cert.Key, cert.SignatureKey)
	}
	for _, k := range suspects {
		var lines []Line
		for _, e := range es {
			if e.mark == markRevoked && keysEqual(e.key, k) {
				lines = append(lines, e.where)
			}
		}
		if len(lines) > 0 {
			return &RevokedKeyError{
				Profile: c.cfg.Profile, Hop: c.cfg.Hop, HopName: c.cfg.HopName, Addr: addr, Host: name,
				KeyType: k.Type(), Fingerprint: Fingerprint(k), Known: lines,
			}
		}
	}

	var detail string
	if isCert {
		err := c.checkCert(addr, remote, cert, es)
		if err == nil {
			return nil
		}
		// As OpenSSH does: a certificate that no CA vouches for is checked
		// as the plain key it certifies.
		detail = "its host certificate was not accepted (" + err.Error() + ")"
		key = cert.Key
	}

	keyType := key.Type()
	var changed []Line
	var otherTypes []string
	for _, e := range es {
		if e.mark != markNone {
			continue
		}
		if e.key.Type() != keyType {
			if !slices.Contains(otherTypes, e.key.Type()) {
				otherTypes = append(otherTypes, e.key.Type())
			}
			continue
		}
		if keysEqual(e.key, key) {
			return nil
		}
		changed = append(changed, e.where)
	}
	if len(changed) > 0 {
		return &ChangedKeyError{
			Profile: c.cfg.Profile, Hop: c.cfg.Hop, HopName: c.cfg.HopName, Addr: addr, Host: name,
			KeyType: keyType, Fingerprint: Fingerprint(key), Known: changed,
		}
	}
	if len(otherTypes) > 0 {
		d := "known_hosts holds keys of other types for it (" + strings.Join(otherTypes, ", ") + ")"
		if detail != "" {
			d = detail + "; " + d
		}
		detail = d
	}
	return c.unknown(ctx, addr, name, key, detail)
}

// checkCert accepts a host certificate signed by a CA that a matching
// @cert-authority line holds, valid now and issued for this host.
func (c *Checker) checkCert(addr string, remote net.Addr, cert *ssh.Certificate, es []entry) error {
	trusted := false
	for _, e := range es {
		if e.mark == markCA && keysEqual(e.key, cert.SignatureKey) {
			trusted = true
			break
		}
	}
	if !trusted {
		return errors.New("no @cert-authority line for this host holds its CA " + ssh.FingerprintSHA256(cert.SignatureKey))
	}
	cc := &ssh.CertChecker{
		// The CA was matched against this host's lines above.
		IsHostAuthority: func(ssh.PublicKey, string) bool { return true },
	}
	return cc.CheckHostKey(net.JoinHostPort(c.principal(addr), "22"), remote, cert)
}

func isHeadless(p api.Prompter) bool {
	switch p.(type) {
	case nil, api.Headless, *api.Headless:
		return true
	}
	return false
}

func (c *Checker) unknown(ctx context.Context, addr, name string, key ssh.PublicKey, detail string) error {
	refuse := func(reason string) error {
		return &UnknownKeyError{
			Profile: c.cfg.Profile, Hop: c.cfg.Hop, HopName: c.cfg.HopName, Addr: addr, Host: name,
			KeyType: key.Type(), Fingerprint: Fingerprint(key), Reason: reason, Detail: detail,
		}
	}
	if c.cfg.Strict == "yes" {
		return refuse("StrictHostKeyChecking is yes")
	}
	if isHeadless(c.cfg.Prompter) {
		return refuse(api.ErrNoPrompter.Error())
	}

	c.promptMu.Lock()
	defer c.promptMu.Unlock()
	// Someone may have accepted it while we waited for the lock.
	for _, e := range c.matching(name) {
		if e.mark == markNone && keysEqual(e.key, key) {
			return nil
		}
	}
	file := ""
	if len(c.cfg.Files) > 0 {
		file = c.cfg.Files[0]
	}
	dec, err := c.cfg.Prompter.HostKey(ctx, api.HostKeyQuestion{
		Profile: c.cfg.Profile, Hop: c.cfg.Hop, HopName: c.cfg.HopName, Addr: addr,
		KeyType: key.Type(), Fingerprint: Fingerprint(key), KnownHostsFile: file,
	})
	if err != nil {
		return refuse(err.Error())
	}
	switch dec {
	case api.AcceptOnce:
	case api.AcceptAndSave:
		if file == "" {
			c.log.Warn("host key accepted for this run only: no known_hosts file to save it to", "host", name)
			break
		}
		if err := AppendLine(file, []string{name}, key, c.cfg.Hash); err != nil {
			c.log.Warn("host key accepted for this run only: could not save it", "host", name, "err", err)
		}
	default:
		return refuse("rejected")
	}
	c.mu.Lock()
	c.accepted = append(c.accepted, entry{patterns: []string{name}, key: key})
	c.mu.Unlock()
	return nil
}
