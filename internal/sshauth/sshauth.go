// Package sshauth builds the SSH client authentication methods for one hop in
// OpenSSH's order: ssh-agent, identity files (with certificates, encrypted
// keys asked for once per run through a Prompter and cached in memory), then
// keyboard-interactive and password when a Prompter can ask.
//
// It must not import cobra, viper, bubbletea or the tunnel package.
package sshauth

import (
	"log/slog"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// Cache keeps decrypted signers for the run so reconnects need nobody at the
// keyboard. Safe for concurrent use. The zero value is not usable; use
// NewCache.
type Cache struct {
	// implementation owned by internal/sshauth
}

// NewCache returns an empty cache.
func NewCache() *Cache { panic("sshauth.NewCache: unimplemented") }

// Config says how to authenticate one hop.
type Config struct {
	Profile  string
	Hop      profile.Hop
	Prompter api.Prompter // nil or api.Headless: no passphrases, no keyboard-interactive
	Cache    *Cache
	Logger   *slog.Logger
	Getenv   func(string) string // nil = os.Getenv (SSH_AUTH_SOCK)
}

// Methods returns the auth methods for cfg.Hop, and a closer that releases
// what they hold (agent connections). Call the closer after the handshake.
func Methods(cfg Config) (methods []ssh.AuthMethod, closer func(), err error) {
	panic("sshauth.Methods: unimplemented")
}
