package sshauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
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
	mu        sync.Mutex
	entries   map[string]*cacheEntry // guarded by mu; by absolute key path
	passwords map[string]string      // guarded by mu; by user@host:port, kept after a successful login
}

// cacheEntry holds one key file's decrypted signer. Its mu is held while the
// passphrase is asked for, so concurrent connections ask once.
type cacheEntry struct {
	mu     sync.Mutex
	signer ssh.Signer // guarded by mu
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: make(map[string]*cacheEntry), passwords: make(map[string]string)}
}

// password returns the password that logged in to key before.
func (c *Cache) password(key string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pw, ok := c.passwords[key]
	return pw, ok
}

// setPassword keeps pw for key ("" forgets it).
func (c *Cache) setPassword(key, pw string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if pw == "" {
		delete(c.passwords, key)
		return
	}
	c.passwords[key] = pw
}

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
// MethodsContext for that, and Prepare to also learn why a failed
// handshake failed.
func Methods(cfg Config) (methods []ssh.AuthMethod, closer func(), err error) {
	return MethodsContext(context.Background(), cfg)
}

// MethodsContext is Methods with ctx passed to every Prompter question
// (passphrases, keyboard-interactive, password), so that a cancelled
// connection attempt stops waiting for an answer.
func MethodsContext(ctx context.Context, cfg Config) (methods []ssh.AuthMethod, closer func(), err error) {
	au := Prepare(ctx, cfg)
	return au.Methods(), au.Close, nil
}

// Auth is one hop's authentication for one connection attempt: the methods
// to hand to x/crypto, what they hold (an agent connection), and what they
// had to leave out, so that a failed handshake can be explained. Use
// Prepare; call Close after the handshake.
type Auth struct {
	a       *authn
	methods []ssh.AuthMethod
	conn    net.Conn // the agent connection; nil when none
	once    sync.Once
}

// Prepare builds the auth methods for cfg.Hop, with ctx passed to every
// Prompter question.
//
// The order is OpenSSH's: agent keys (only those matching the identity
// files with IdentitiesOnly), then identity files not already offered by
// the agent, each key's certificates before the key; then
// keyboard-interactive and password, only when a real Prompter exists. The
// agent is dialled here, afresh for each call; Close closes it.
func Prepare(ctx context.Context, cfg Config) *Auth {
	a := &authn{ctx: ctx, cfg: cfg, log: cfg.Logger, getenv: cfg.Getenv}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("hop", cfg.Hop.Name)
	if a.getenv == nil {
		a.getenv = os.Getenv
	}
	au := &Auth{a: a}
	if sock := a.agentSocket(); sock != "" {
		c, err := net.Dial("unix", sock)
		if err != nil {
			a.log.Warn("ssh-agent not reachable; not using it", "socket", sock, "err", err)
		} else {
			au.conn = c
			a.agent = agent.NewClient(c)
		}
	}

	a.loadIdentities()
	au.methods = append(au.methods, ssh.PublicKeysCallback(a.signers))
	if canAsk(cfg.Prompter) {
		au.methods = append(au.methods,
			ssh.KeyboardInteractive(a.keyboardInteractive),
			ssh.PasswordCallback(a.password))
	}
	return au
}

// Methods returns the methods to put in ssh.ClientConfig.Auth.
func (au *Auth) Methods() []ssh.AuthMethod { return au.methods }

// Close releases the agent connection. It is safe to call more than once.
func (au *Auth) Close() {
	au.once.Do(func() {
		if au.conn != nil {
			au.conn.Close()
		}
	})
}

// Failure explains a failed handshake as AsAuthError does (hop as shown in
// messages, "" when the caller names the hop itself), and more: when
// authentication failed after an encrypted key was left out because nobody
// could be asked for its passphrase, the *AuthError carries a *KeyError for
// that key wrapping api.ErrNoPrompter, whose message tells the user what to
// do. Other errors, and nil, are returned unchanged.
func (au *Auth) Failure(hop string, err error) error {
	au.a.mu.Lock()
	replayed := au.a.usedCachedPassword
	au.a.mu.Unlock()
	if replayed {
		// The kept password no longer logs in: ask again next time.
		au.a.cfg.Cache.setPassword(au.a.passwordKey(), "")
	}
	err = AsAuthError(hop, err)
	ae, ok := err.(*AuthError)
	if !ok {
		return err
	}
	var ke *KeyError
	if errors.As(ae.Err, &ke) {
		return err
	}
	skipped := au.a.skippedKeys()
	if len(skipped) == 0 {
		if len(au.a.refused) > 0 {
			return &AuthError{Hop: ae.Hop, Methods: ae.Methods, Err: errors.Join(ae.Err, au.a.refused[0])}
		}
		return err
	}
	ke = &KeyError{File: skipped[0], Err: fmt.Errorf("key is encrypted: %w", api.ErrNoPrompter)}
	if len(skipped) > 1 {
		au.a.log.Info("more encrypted keys were left out for want of a passphrase", "files", skipped)
	}
	return &AuthError{Hop: ae.Hop, Methods: ae.Methods, Err: errors.Join(ae.Err, ke)}
}

// Succeeded is called once the handshake logged in. A password typed for it
// is kept in the Cache for reconnects. It returns a note, "" when none, for
// what cannot be replayed: keyboard-interactive answers, which may be
// one-time codes, and a security key's touch, so every reconnect needs a
// person again.
func (au *Auth) Succeeded() string {
	a := au.a
	a.mu.Lock()
	pw, ki, touch := a.pendingPassword, a.answeredKI, a.touchedKey
	a.pendingPassword = ""
	a.mu.Unlock()
	if pw != "" {
		a.cfg.Cache.setPassword(a.passwordKey(), pw)
	}
	switch {
	case ki:
		return fmt.Sprintf("%s: logged in with answers typed at the keyboard (keyboard-interactive, e.g. a one-time code); they are not replayed, so each reconnect needs someone to answer again", a.cfg.Hop.Name)
	case touch:
		return fmt.Sprintf("%s: logged in with a security key; each reconnect needs a touch on the key", a.cfg.Hop.Name)
	}
	return ""
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

	mu      sync.Mutex
	skipped []string // guarded by mu; encrypted keys left out (headless), as displayed
	// Interactive logins, guarded by mu: a password typed in this handshake
	// (kept in the Cache once it logged in), whether a cached one was sent,
	// and whether keyboard-interactive questions were answered (which may be
	// one-time codes: never replayed).
	pendingPassword    string
	usedCachedPassword bool
	answeredKI         bool
	touchedKey         bool // a security key signed: it needed a touch

	// refused are identity files not loaded because their permissions let
	// others read them (set while loading, before the methods run).
	refused []*KeyError
}

// skip records that id, an encrypted key, was not offered because nobody
// can be asked for its passphrase.
func (a *authn) skip(id *identity) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.display(id.path)
	if !slices.Contains(a.skipped, d) {
		a.skipped = append(a.skipped, d)
	}
}

func (a *authn) skippedKeys() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.skipped)
}

// display shows p as people write it: ~ for the home directory.
func (a *authn) display(p string) string {
	home := a.home()
	if home == "" || home == "/" {
		return p
	}
	home = filepath.Clean(home)
	if rel, ok := strings.CutPrefix(p, home+string(filepath.Separator)); ok {
		return "~/" + filepath.ToSlash(rel)
	}
	return p
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
	a.mu.Lock()
	a.answeredKI = true
	a.mu.Unlock()
	return answers, nil
}

// password asks for the password as one hidden question.
func (a *authn) password() (string, error) {
	key := a.passwordKey()
	if pw, ok := a.cfg.Cache.password(key); ok {
		// Typed once this run and it logged in: replay it (Failure forgets
		// it if the server no longer takes it).
		a.mu.Lock()
		a.usedCachedPassword = true
		a.mu.Unlock()
		return pw, nil
	}
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
	a.mu.Lock()
	a.pendingPassword = answers[0]
	a.mu.Unlock()
	return answers[0], nil
}

// passwordKey names the account a password is for.
func (a *authn) passwordKey() string {
	return a.cfg.Hop.User + "@" + a.cfg.Hop.Addr()
}
