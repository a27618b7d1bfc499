// Package hostkeys verifies SSH host keys against OpenSSH known_hosts files
// (hashed entries, [host]:port, @cert-authority, @revoked, HostKeyAlias),
// tells the server which key types to offer so a stored ed25519 key is not
// mistaken for a changed one (golang/go#29286), asks a Prompter about
// unknown keys and appends accepted ones atomically.
//
// It must not import cobra, viper, bubbletea or the tunnel package.
package hostkeys

import (
	"golang.org/x/crypto/ssh"

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
}

// Checker verifies one hop's host key.
type Checker struct {
	// implementation owned by internal/hostkeys
}

// New reads the known_hosts files of cfg.
func New(cfg Config) (*Checker, error) { panic("hostkeys.New: unimplemented") }

// HostKeyAlgorithms returns the key algorithms to ask the server for at addr
// (host:port as dialled), preferring the types known_hosts holds for it; nil
// when it holds none (library defaults).
func (c *Checker) HostKeyAlgorithms(addr string) []string {
	panic("hostkeys.HostKeyAlgorithms: unimplemented")
}

// Callback is the ssh.HostKeyCallback for this hop. Its errors wrap
// api.ErrHostKey and are *UnknownKeyError, *ChangedKeyError or
// *RevokedKeyError.
func (c *Checker) Callback() ssh.HostKeyCallback { panic("hostkeys.Callback: unimplemented") }
