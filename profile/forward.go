package profile

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ParseForwardSpec parses an `ssh -L`-style local forward:
//
//	[bind_address:]port:host:hostport
//
// "8080:127.0.0.1:8080", "127.0.0.1:8080:host:80", "[::1]:8080:[fe80::1]:80".
// The bind address defaults to 127.0.0.1; "*" or an empty bind address means
// every interface (normalized to ":port"), which a profile accepts only with
// allow_non_loopback: true (so only in the mapping form). Port 0 means "pick a
// free port". The forward gets the default name "L<port>".
func ParseForwardSpec(s string) (Forward, error) {
	listen, target, err := parseFourPart(s, "forward")
	if err != nil {
		return Forward{}, err
	}
	f := Forward{Type: Local, Local: listen, Remote: target}
	f.Name = defaultForwardName(f)
	return f, nil
}

// parseFourPart parses [bind_address:]port:host:hostport, the shape shared
// by -L and -R, into a listen address and a target address; what names the
// spec in errors.
func parseFourPart(s, what string) (listen, target string, err error) {
	parts, err := splitColons(strings.TrimSpace(s))
	if err != nil {
		return "", "", fmt.Errorf("%s %q: %w", what, s, err)
	}
	var bind, port, host, hostport string
	switch len(parts) {
	case 3:
		bind, port, host, hostport = "127.0.0.1", parts[0], parts[1], parts[2]
	case 4:
		bind, port, host, hostport = parts[0], parts[1], parts[2], parts[3]
	default:
		return "", "", fmt.Errorf("%s %q: want [bind_address:]port:host:hostport", what, s)
	}
	if listen, err = listenAddr(bind, port); err != nil {
		return "", "", fmt.Errorf("%s %q: %w", what, s, err)
	}
	if target, err = targetAddr(host, hostport); err != nil {
		return "", "", fmt.Errorf("%s %q: %w", what, s, err)
	}
	return listen, target, nil
}

// parseDynamicSpec parses `ssh -D`'s [bind_address:]port.
func parseDynamicSpec(s string) (Forward, error) {
	local, err := parseListen(strings.TrimSpace(s))
	if err != nil {
		return Forward{}, fmt.Errorf("dynamic forward %q: %w", s, err)
	}
	f := Forward{Type: Dynamic, Local: local}
	f.Name = defaultForwardName(f)
	return f, nil
}

// parseRemoteSpec parses `ssh -R`'s [bind_address:]port:host:hostport: the
// first half listens on the server, the second is the client-side target.
func parseRemoteSpec(s string) (Forward, error) {
	listen, target, err := parseFourPart(s, "remote forward")
	if err != nil {
		return Forward{}, err
	}
	f := Forward{Type: Remote, Local: target, Remote: listen}
	f.Name = defaultForwardName(f)
	return f, nil
}

// splitColons splits s on ':' outside [brackets].
func splitColons(s string) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			if depth > 0 {
				return nil, errors.New("nested '['")
			}
			depth++
		case ']':
			if depth == 0 {
				return nil, errors.New("unbalanced ']'")
			}
			depth--
		case ':':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, errors.New("unbalanced '['")
	}
	return append(parts, s[start:]), nil
}

// parsePort parses a decimal port; zeroOK allows 0.
func parsePort(s string, zeroOK bool) (int, error) {
	if s == "" {
		return 0, errors.New("missing port")
	}
	if len(s) > 6 {
		return 0, fmt.Errorf("port %.12q out of range", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad port %q", s)
		}
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("port %d out of range", n)
	}
	return n, nil
}

// checkHost validates a host name or IP literal (brackets already removed
// or not) and returns it without brackets.
func checkHost(h string) (string, error) {
	if strings.HasPrefix(h, "[") {
		if !strings.HasSuffix(h, "]") || len(h) < 3 {
			return "", fmt.Errorf("bad address %q", h)
		}
		in := h[1 : len(h)-1]
		a, err := netip.ParseAddr(in)
		if err != nil || !a.Is6() {
			return "", fmt.Errorf("bad IPv6 address %q", h)
		}
		return in, nil
	}
	if h == "" {
		return "", errors.New("missing host")
	}
	if len(h) > 253 {
		return "", fmt.Errorf("host name too long (%d bytes)", len(h))
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Is6() && !a.Is4In6() {
			return h, nil
		}
		return h, nil
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			continue
		}
		return "", fmt.Errorf("bad host name %q", h)
	}
	return h, nil
}

// listenAddr normalizes a bind address and port ("*" and "" mean every
// interface, kept as the empty host).
func listenAddr(bind, port string) (string, error) {
	p, err := parsePort(port, true)
	if err != nil {
		return "", err
	}
	if bind == "*" || bind == "" {
		return joinHostPort("", p), nil
	}
	h, err := checkHost(bind)
	if err != nil {
		return "", err
	}
	return joinHostPort(h, p), nil
}

// targetAddr normalizes a connect-to address; its port must not be 0.
func targetAddr(host, port string) (string, error) {
	p, err := parsePort(port, false)
	if err != nil {
		return "", err
	}
	if host == "*" {
		return "", errors.New("target host cannot be '*'")
	}
	h, err := checkHost(host)
	if err != nil {
		return "", err
	}
	return joinHostPort(h, p), nil
}

// parseListen parses a listen address as written in a mapping: a bare port
// (127.0.0.1:port), host:port, [v6]:port, *:port or :port.
func parseListen(s string) (string, error) { return parseAddr(s, listenAddr) }

// parseTarget parses a connect-to address: a bare port (127.0.0.1:port) or
// host:port.
func parseTarget(s string) (string, error) { return parseAddr(s, targetAddr) }

// parseAddr splits a bare port or host:port and normalizes it with build; a
// bare port means 127.0.0.1.
func parseAddr(s string, build func(host, port string) (string, error)) (string, error) {
	if s == "" {
		return "", errors.New("empty address")
	}
	parts, err := splitColons(s)
	if err != nil {
		return "", err
	}
	switch len(parts) {
	case 1:
		return build("127.0.0.1", parts[0])
	case 2:
		return build(parts[0], parts[1])
	}
	return "", fmt.Errorf("bad address %q (IPv6 addresses go in brackets: [::1]:8080)", s)
}

// isLoopbackAddr reports whether a normalized listen address binds loopback
// only.
func isLoopbackAddr(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

func addrPort(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return -1
	}
	return n
}

func defaultForwardName(f Forward) string {
	prefix := "L"
	switch f.Type {
	case Dynamic:
		prefix = "D"
	case Remote:
		prefix = "R"
	}
	return prefix + strconv.Itoa(max(addrPort(f.Listen()), 0))
}

// validForwardName reports whether s matches [A-Za-z][A-Za-z0-9_-]*.
func validForwardName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// EnvName is the environment variable `kuguri connect` sets to this
// forward's address: KUGURI_<NAME>_ADDR, the name upper-cased with '-'
// turned into '_'. Names are unique in a profile in this form too.
func (f Forward) EnvName() string {
	return "KUGURI_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")) + "_ADDR"
}

// Spec returns the forward in ssh's command-line form: the argument of -L,
// -D or -R ("*" written for an every-interface bind).
func (f Forward) Spec() string {
	star := func(a string) string {
		if strings.HasPrefix(a, ":") {
			return "*" + a
		}
		return a
	}
	switch f.Type {
	case Dynamic:
		return star(f.Local)
	case Remote:
		return star(f.Remote) + ":" + f.Local
	}
	return star(f.Local) + ":" + f.Remote
}
