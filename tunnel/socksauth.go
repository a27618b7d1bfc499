package tunnel

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// SOCKS5 username/password authentication (RFC 1929) for dynamic forwards
// with socks_user.
//
// The password is read once, when the forward starts (Options.Getenv for
// socks_password_env, the file for socks_password_file, which must not be
// accessible by group or others); a missing variable or an unreadable file
// fails the forward with an api.ErrConfig error naming the forward and the
// variable or file. Only SHA-256 digests of the user name and password are
// kept, in memory; neither the password nor what a client offered ever
// reaches a log, an error, a snapshot or disk. Offered credentials are
// hashed and compared with crypto/subtle, so the comparison takes the same
// time whatever matches.
//
// Failed logins are recorded on the forward's LastError and logged with the
// client's address only. After socksMaxFailures failures within
// socksFailWindow from one client address (one IPv4 address, or one IPv6
// /64), that address is refused for socksBlockFor: its connections are
// closed before a byte is read, so the forward cannot be used to guess
// passwords quickly.

const (
	socksMaxFailures = 5
	socksFailWindow  = time.Minute
	socksBlockFor    = time.Minute
	// socksMaxTracked bounds the failure table; when it is full of live
	// entries, the oldest is forgotten.
	socksMaxTracked = 4096
	// socksMaxSecret is RFC 1929's limit for UNAME and PASSWD.
	socksMaxSecret = 255
	// socksMaxPasswordFile bounds what is read of a password file.
	socksMaxPasswordFile = 4096
)

// socksAuth is one dynamic forward's RFC 1929 check.
type socksAuth struct {
	// set at construction
	user, pass [sha256.Size]byte // digests of the expected credentials
	limit      *loginLimiter
}

// newSOCKSAuth reads f's password (getenv nil = os.Getenv). Its errors name
// the variable or file, never the value.
func newSOCKSAuth(f profile.Forward, getenv func(string) string) (*socksAuth, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if len(f.SOCKSUser) > socksMaxSecret {
		return nil, fmt.Errorf("socks_user longer than %d bytes, the SOCKS5 limit (RFC 1929)", socksMaxSecret)
	}
	var pass []byte
	var src string
	switch {
	case f.SOCKSPasswordEnv != "":
		src = "socks_password_env " + f.SOCKSPasswordEnv
		v := getenv(f.SOCKSPasswordEnv)
		if v == "" {
			return nil, fmt.Errorf("socks_password_env: environment variable %s is not set or empty", f.SOCKSPasswordEnv)
		}
		pass = []byte(v)
	case f.SOCKSPasswordFile != "":
		src = "socks_password_file " + f.SOCKSPasswordFile
		var err error
		if pass, err = readPasswordFile(f.SOCKSPasswordFile); err != nil {
			return nil, fmt.Errorf("socks_password_file %s: %w", f.SOCKSPasswordFile, err)
		}
	default:
		return nil, errors.New("socks_user needs socks_password_env or socks_password_file")
	}
	defer clear(pass)
	if len(pass) > socksMaxSecret {
		return nil, fmt.Errorf("%s: password longer than %d bytes, the SOCKS5 limit (RFC 1929)", src, socksMaxSecret)
	}
	return &socksAuth{
		user:  sha256.Sum256([]byte(f.SOCKSUser)),
		pass:  sha256.Sum256(pass),
		limit: newLoginLimiter(),
	}, nil
}

// readPasswordFile returns the first line of a file that only its owner
// (or root) may access.
func readPasswordFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err // the caller names the file
		}
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if err := checkSecretPerms(st, path); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(fh, socksMaxPasswordFile))
	if err != nil {
		clear(data)
		return nil, err
	}
	line := data
	for i, c := range data {
		if c == '\n' {
			line = data[:i]
			break
		}
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	out := append([]byte(nil), line...)
	clear(data)
	if len(out) == 0 {
		return nil, errors.New("the first line is empty: it should hold the password")
	}
	return out, nil
}

// login runs the RFC 1929 sub-negotiation on conn, using b (at least 257
// bytes) as scratch space: VER=1 ULEN UNAME PLEN PASSWD in, VER STATUS out.
// A wrong user name or password answers 0x01 0x01 and returns
// errSOCKSLogin.
func (a *socksAuth) login(conn net.Conn, b []byte) error {
	defer clear(b)
	if _, err := io.ReadFull(conn, b[:2]); err != nil {
		return err
	}
	if b[0] != socksAuthVersion {
		return fmt.Errorf("bad username/password negotiation version %d", b[0])
	}
	ulen := int(b[1])
	if _, err := io.ReadFull(conn, b[:ulen+1]); err != nil { // UNAME, PLEN
		return err
	}
	user := sha256.Sum256(b[:ulen])
	plen := int(b[ulen])
	if _, err := io.ReadFull(conn, b[:plen]); err != nil {
		return err
	}
	pass := sha256.Sum256(b[:plen])
	ok := subtle.ConstantTimeCompare(user[:], a.user[:]) & subtle.ConstantTimeCompare(pass[:], a.pass[:])
	if ok != 1 {
		conn.Write([]byte{socksAuthVersion, socksAuthFailed})
		return errSOCKSLogin
	}
	_, err := conn.Write([]byte{socksAuthVersion, socksAuthOK})
	return err
}

// start readies a local or dynamic forward at profile start: the SOCKS
// password when the forward has socks_user, then the listener.
func (f *forward) start(getenv func(string) string) error {
	if f.spec.SOCKSAuth() {
		a, err := newSOCKSAuth(f.spec, getenv)
		if err != nil {
			return fmt.Errorf("profile %q, forward %q: %w: %w", f.profile, f.spec.Name, api.ErrConfig, err)
		}
		f.socks = a
	}
	return f.bind()
}

// socksHandshake serves a dynamic forward's client up to its CONNECT
// request, enforcing the forward's login and the per-address limit on
// failures. Errors name the client's address.
func (f *forward) socksHandshake(conn net.Conn, clock Clock) (*socksRequest, error) {
	client := conn.RemoteAddr().String()
	a := f.socks
	if a == nil {
		req, err := socksHandshake(conn, nil)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", client, err)
		}
		return req, nil
	}
	key := clientKey(conn.RemoteAddr())
	if left := a.limit.blocked(key, clock.Now()); left > 0 {
		f.logger.Debug("SOCKS client refused: too many failed logins", "client", client)
		return nil, fmt.Errorf("client %s: refused: %d failed logins from %s, blocked for another %s", client, socksMaxFailures, keyText(key), left.Round(time.Second))
	}
	req, err := socksHandshake(conn, a)
	switch {
	case errors.Is(err, errSOCKSLogin):
		f.logger.Warn("SOCKS login failed", "client", client)
		if a.limit.fail(key, clock.Now()) {
			f.logger.Warn("SOCKS client blocked after failed logins", "client", keyText(key), "failures", socksMaxFailures, "for", socksBlockFor)
			return nil, fmt.Errorf("client %s: %w (%d failures: %s blocked for %s)", client, err, socksMaxFailures, keyText(key), socksBlockFor)
		}
		return nil, fmt.Errorf("client %s: %w", client, err)
	case err != nil:
		return nil, fmt.Errorf("client %s: %w", client, err)
	}
	a.limit.succeed(key)
	return req, nil
}

// clientKey is the unit the failure limit counts by: an IPv4 address, or
// an IPv6 /64 (one host's usual share, which it can change at will).
func clientKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}

func keyText(p netip.Prefix) string {
	if !p.IsValid() {
		return "unknown address"
	}
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// loginLimiter counts failed logins per client address.
type loginLimiter struct {
	mu   sync.Mutex
	byIP map[netip.Prefix]*loginFailures // guarded by mu
}

type loginFailures struct {
	n     int       // failures since first
	first time.Time // start of the counting window
	until time.Time // refused until then; zero = not refused
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{byIP: map[netip.Prefix]*loginFailures{}}
}

// blocked returns how much longer key is refused; 0 = not refused.
func (l *loginLimiter) blocked(key netip.Prefix, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.byIP[key]; e != nil && now.Before(e.until) {
		return e.until.Sub(now)
	}
	return 0
}

// fail records a failed login and reports whether key is now refused.
func (l *loginLimiter) fail(key netip.Prefix, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.byIP[key]
	if e == nil {
		if len(l.byIP) >= socksMaxTracked {
			l.pruneLocked(now)
		}
		e = &loginFailures{first: now}
		l.byIP[key] = e
	}
	if now.Sub(e.first) >= socksFailWindow {
		e.n, e.first = 0, now
	}
	e.n++
	if e.n >= socksMaxFailures {
		e.n, e.first, e.until = 0, now, now.Add(socksBlockFor)
		return true
	}
	return false
}

// succeed forgets key's failures.
func (l *loginLimiter) succeed(key netip.Prefix) {
	l.mu.Lock()
	delete(l.byIP, key)
	l.mu.Unlock()
}

// pruneLocked drops entries that no longer matter; when every entry still
// does, it drops the oldest, so the table never outgrows socksMaxTracked.
func (l *loginLimiter) pruneLocked(now time.Time) {
	var oldest netip.Prefix
	var oldestAt time.Time
	for k, e := range l.byIP {
		if now.Sub(e.first) >= socksFailWindow && !now.Before(e.until) {
			delete(l.byIP, k)
			continue
		}
		if oldestAt.IsZero() || e.first.Before(oldestAt) {
			oldest, oldestAt = k, e.first
		}
	}
	if len(l.byIP) >= socksMaxTracked {
		delete(l.byIP, oldest)
	}
}
