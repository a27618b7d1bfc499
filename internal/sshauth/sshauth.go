package sshauth

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// Cache keeps decrypted signers for the run so reconnects need nobody at the
// keyboard. Safe for concurrent use. The zero value is not usable; use
// NewCache.
type Cache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry // guarded by mu; by absolute key path
}

// cacheEntry holds one key file's decrypted signer. Its mu is held while the
// passphrase is asked for, so concurrent connections ask once.
type cacheEntry struct {
	mu     sync.Mutex
	signer ssh.Signer // guarded by mu
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{entries: make(map[string]*cacheEntry)} }

// entry returns the entry for abs, creating it. A nil Cache returns a fresh
// entry each time (nothing is kept).
func (c *Cache) entry(abs string) *cacheEntry {
	if c == nil {
		return &cacheEntry{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[abs]
	if !ok {
		e = &cacheEntry{}
		c.entries[abs] = e
	}
	return e
}

// lookup returns the cached signer for abs when it matches pub.
func (c *Cache) lookup(abs string, pub ssh.PublicKey) ssh.Signer {
	if c == nil {
		return nil
	}
	e := c.entry(abs)
	if !e.mu.TryLock() {
		return nil // being decrypted right now: offer the lazy signer
	}
	defer e.mu.Unlock()
	if e.signer != nil && (pub == nil || sameKey(e.signer.PublicKey(), pub)) {
		return e.signer
	}
	return nil
}

// Forget drops every cached signer (for example when the user asks to lock
// the keys again).
func (c *Cache) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

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
// Questions to the Prompter are not bounded by a context; use
// MethodsContext for that.
func Methods(cfg Config) (methods []ssh.AuthMethod, closer func(), err error) {
	return MethodsContext(context.Background(), cfg)
}

// MethodsContext is Methods with ctx passed to every Prompter question
// (passphrases, keyboard-interactive, password), so that a cancelled
// connection attempt stops waiting for an answer.
//
// The order is OpenSSH's: agent keys (only those matching the identity
// files with IdentitiesOnly), then identity files not already offered by
// the agent, each key's certificates before the key; then
// keyboard-interactive and password, only when a real Prompter exists. The
// agent is dialled here, afresh for each call; the closer closes it.
func MethodsContext(ctx context.Context, cfg Config) (methods []ssh.AuthMethod, closer func(), err error) {
	a := &authn{ctx: ctx, cfg: cfg, log: cfg.Logger, getenv: cfg.Getenv}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("hop", cfg.Hop.Name)
	if a.getenv == nil {
		a.getenv = os.Getenv
	}

	var conn net.Conn
	if sock := a.agentSocket(); sock != "" {
		c, err := net.Dial("unix", sock)
		if err != nil {
			a.log.Warn("ssh-agent not reachable; not using it", "socket", sock, "err", err)
		} else {
			conn = c
			a.agent = agent.NewClient(c)
		}
	}
	var once sync.Once
	closer = func() {
		once.Do(func() {
			if conn != nil {
				conn.Close()
			}
		})
	}

	a.loadIdentities()
	methods = append(methods, ssh.PublicKeysCallback(a.signers))
	if canAsk(cfg.Prompter) {
		methods = append(methods,
			ssh.KeyboardInteractive(a.keyboardInteractive),
			ssh.PasswordCallback(a.password))
	}
	return methods, closer, nil
}

// canAsk reports whether p can ask a person.
func canAsk(p api.Prompter) bool {
	switch p.(type) {
	case nil, api.Headless, *api.Headless:
		return false
	}
	return true
}

// authn is one Methods call's state. Everything is set before the methods
// are returned; x/crypto calls them from the handshake goroutine only.
type authn struct {
	ctx    context.Context
	cfg    Config
	log    *slog.Logger
	getenv func(string) string
	agent  agent.ExtendedAgent // nil: no agent

	ids   []*identity
	certs []*ssh.Certificate // from CertificateFiles
}

func (a *authn) home() string {
	if h := a.getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// expand resolves a leading ~ and, for IdentityAgent, "$VAR" / "SSH_AUTH_SOCK".
func (a *authn) expand(p string) string {
	if p == "~" {
		return a.home()
	}
	if strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		return filepath.Join(a.home(), p[2:])
	}
	return p
}

// agentSocket returns the agent socket to use, "" for none.
func (a *authn) agentSocket() string {
	s := a.cfg.Hop.IdentityAgent
	switch {
	case s == "none":
		return ""
	case s == "" || s == "SSH_AUTH_SOCK":
		return a.getenv("SSH_AUTH_SOCK")
	case strings.HasPrefix(s, "$"):
		return a.expand(a.getenv(strings.Trim(s[1:], "{}")))
	}
	return a.expand(s)
}

// keyboardInteractive asks the server's questions through the Prompter.
func (a *authn) keyboardInteractive(name, instruction string, questions []string, echos []bool) ([]string, error) {
	if len(questions) == 0 {
		return nil, nil
	}
	answers, err := a.cfg.Prompter.KeyboardInteractive(a.ctx, api.KeyboardInteractiveQuestion{
		Profile: a.cfg.Profile, HopName: a.cfg.Hop.Name, User: a.cfg.Hop.User,
		Name: name, Instruction: instruction, Questions: questions, Echo: echos,
	})
	if err != nil {
		return nil, fmt.Errorf("keyboard-interactive: %w", err)
	}
	if len(answers) != len(questions) {
		return nil, fmt.Errorf("keyboard-interactive: %d answers to %d questions", len(answers), len(questions))
	}
	return answers, nil
}

// password asks for the password as one hidden question.
func (a *authn) password() (string, error) {
	host := a.cfg.Hop.HostName
	if host == "" {
		host = a.cfg.Hop.Name
	}
	answers, err := a.cfg.Prompter.KeyboardInteractive(a.ctx, api.KeyboardInteractiveQuestion{
		Profile: a.cfg.Profile, HopName: a.cfg.Hop.Name, User: a.cfg.Hop.User,
		Questions: []string{fmt.Sprintf("%s@%s's password: ", a.cfg.Hop.User, host)},
		Echo:      []bool{false},
	})
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	if len(answers) != 1 {
		return "", fmt.Errorf("password: %d answers to 1 question", len(answers))
	}
	return answers[0], nil
}
