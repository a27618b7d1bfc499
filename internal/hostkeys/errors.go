package hostkeys

import (
	"fmt"
	"strings"

	"github.com/kuguri/kuguri/tunnel/api"
)

// Line is one known_hosts line: the file as configured and its 1-based line
// number.
type Line struct {
	File string
	Line int
}

func (l Line) String() string { return fmt.Sprintf("%s:%d", l.File, l.Line) }

func hopPrefix(hop int, hopName, addr string) string {
	switch {
	case hop == 0 && hopName == "":
		return ""
	case hop == 0:
		return hopName + ": "
	case hopName == "" || hopName == addr:
		return fmt.Sprintf("hop %d (%s): ", hop, addr)
	default:
		return fmt.Sprintf("hop %d (%s %s): ", hop, hopName, addr)
	}
}

func joinLines(ls []Line) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}

// ChangedKeyError is a host key that differs from the key of the same type
// that known_hosts holds for the host: possibly an attack. It is never
// retried and never asked about.
type ChangedKeyError struct {
	Profile     string
	Hop         int
	HopName     string
	Addr        string // host:port dialled
	Host        string // the name looked up in known_hosts ("[host]:port", host or HostKeyAlias)
	KeyType     string // e.g. "ssh-ed25519"
	Fingerprint string // "SHA256:..." of the key the server presented
	Known       []Line // the known_hosts lines holding the other key(s)
}

func (e *ChangedKeyError) Error() string {
	what := "known_hosts line " + joinLines(e.Known) + " holds a different key"
	if len(e.Known) > 1 {
		what = "known_hosts lines " + joinLines(e.Known) + " hold different keys"
	}
	return fmt.Sprintf("%shost key for %s has CHANGED (%s %s): %s; this may be an attack. Remove the line yourself if the change is expected.",
		hopPrefix(e.Hop, e.HopName, e.Addr), e.Host, e.KeyType, e.Fingerprint, what)
}

func (e *ChangedKeyError) Unwrap() error { return api.ErrHostKey }

// UnknownKeyError is a host key that known_hosts does not hold and that
// nobody accepted: StrictHostKeyChecking=yes, no one to ask, or the person
// asked said no.
type UnknownKeyError struct {
	Profile     string
	Hop         int
	HopName     string
	Addr        string
	Host        string
	KeyType     string
	Fingerprint string
	// Reason says why it was refused: "StrictHostKeyChecking is yes",
	// "no terminal to ask", "rejected", or the prompter's error.
	Reason string
	// Detail adds what else is known: other key types held for the host, a
	// host certificate that was not accepted. Empty when nothing.
	Detail string
}

func (e *UnknownKeyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%shost key for %s is not known (%s %s)", hopPrefix(e.Hop, e.HopName, e.Addr), e.Host, e.KeyType, e.Fingerprint)
	if e.Detail != "" {
		b.WriteString("; " + e.Detail)
	}
	if e.Reason != "" {
		b.WriteString(": refused: " + e.Reason)
	}
	name := e.Profile
	if name == "" {
		name = "PROFILE"
	}
	fmt.Fprintf(&b, `; check the fingerprint and run "kuguri trust %s" to accept it`, name)
	return b.String()
}

func (e *UnknownKeyError) Unwrap() error { return api.ErrHostKey }

// RevokedKeyError is a host key (or the CA that signed its certificate)
// marked @revoked in known_hosts.
type RevokedKeyError struct {
	Profile     string
	Hop         int
	HopName     string
	Addr        string
	Host        string
	KeyType     string
	Fingerprint string // of the revoked key (the CA's when the CA is revoked)
	Known       []Line // the @revoked line(s)
}

func (e *RevokedKeyError) Error() string {
	return fmt.Sprintf("%shost key for %s is REVOKED (%s %s) by known_hosts %s; refusing it",
		hopPrefix(e.Hop, e.HopName, e.Addr), e.Host, e.KeyType, e.Fingerprint, joinLines(e.Known))
}

func (e *RevokedKeyError) Unwrap() error { return api.ErrHostKey }
