package hostkeys

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"golang.org/x/crypto/ssh"
)

// marker is a known_hosts line's marker.
type marker uint8

const (
	markNone    marker = iota
	markCA             // @cert-authority
	markRevoked        // @revoked
)

// entry is one usable known_hosts line.
type entry struct {
	mark     marker
	patterns []string // as written: "host", "!host", "*.example", "|1|salt|hash"
	key      ssh.PublicKey
	where    Line // File "" for keys accepted in memory
}

// parseKnownHosts reads the entries of one known_hosts file. Lines that
// cannot be parsed (garbage, unknown markers, unsupported key types) are
// skipped, as OpenSSH does, and counted in bad.
func parseKnownHosts(file string, data []byte) (entries []entry, bad int) {
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		mk, hosts, key, _, _, err := ssh.ParseKnownHosts(line)
		if err != nil || key == nil || len(hosts) == 0 {
			bad++
			continue
		}
		e := entry{patterns: hosts, key: key, where: Line{File: file, Line: lineNo}}
		switch mk {
		case "":
			if line[0] == '@' {
				bad++
				continue
			}
		case "cert-authority":
			e.mark = markCA
		case "revoked":
			e.mark = markRevoked
		default:
			bad++
			continue
		}
		entries = append(entries, e)
	}
	return entries, bad
}

// matches reports whether the entry's host patterns match host, a lower-case
// "host" or "[host]:port" string (or a HostKeyAlias), with OpenSSH's rules:
// some pattern must match and no negated pattern may.
func (e *entry) matches(host string) bool {
	found := false
	for _, p := range e.patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		var m bool
		if strings.HasPrefix(p, "|") {
			m = hashMatches(p, host)
		} else {
			m = wildcardMatch(strings.ToLower(p), host)
		}
		if m {
			if neg {
				return false
			}
			found = true
		}
	}
	return found
}

// hashMatches checks a hashed pattern "|1|base64(salt)|base64(hmac)".
func hashMatches(pattern, host string) bool {
	parts := strings.Split(pattern, "|")
	if len(parts) != 4 || parts[0] != "" || parts[1] != "1" {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return subtle.ConstantTimeCompare(mac.Sum(nil), want) == 1
}

// wildcardMatch matches s against a pattern where '*' is any run of
// characters and '?' exactly one; every other byte is literal (so '[' in
// "[host]:port" is not special).
func wildcardMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

func keysEqual(a, b ssh.PublicKey) bool {
	return a != nil && b != nil && bytes.Equal(a.Marshal(), b.Marshal())
}
