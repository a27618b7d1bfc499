package sshauth

import (
	"errors"
	"strings"

	"github.com/kuguri/kuguri/tunnel/api"
)

// AuthError is a hop whose every authentication method failed. It matches
// errors.Is(err, api.ErrAuth).
type AuthError struct {
	Hop     string   // the hop as shown in messages, e.g. "vps (127.0.0.1:22)"
	Methods []string // the methods tried, in order ("none", "publickey", ...)
	Err     error    // the handshake's error, with a *KeyError when a key could not be used
}

func (e *AuthError) Error() string {
	var b strings.Builder
	if e.Hop != "" {
		b.WriteString(e.Hop + ": ")
	}
	b.WriteString("authentication failed")
	if len(e.Methods) > 0 {
		b.WriteString(" (tried " + strings.Join(e.Methods, ", ") + ")")
	}
	var ke *KeyError
	if errors.As(e.Err, &ke) {
		b.WriteString(": " + ke.Error())
	}
	return b.String()
}

// Unwrap returns api.ErrAuth and Err, so that errors.As finds a *KeyError
// and errors.Is finds api.ErrNoPrompter.
func (e *AuthError) Unwrap() []error {
	if e.Err == nil {
		return []error{api.ErrAuth}
	}
	return []error{api.ErrAuth, e.Err}
}

// AsAuthError turns x/crypto's handshake authentication failure ("ssh:
// unable to authenticate, attempted methods [none publickey], no supported
// methods remain") or an identity file that could not sign into an
// *AuthError for hop, and returns any other error (and nil) unchanged.
func AsAuthError(hop string, err error) error {
	if err == nil {
		return nil
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return err
	}
	msg := err.Error()
	if i := strings.Index(msg, "unable to authenticate"); i >= 0 {
		return &AuthError{Hop: hop, Methods: attempted(msg[i:]), Err: err}
	}
	var ke *KeyError
	if errors.As(err, &ke) {
		return &AuthError{Hop: hop, Methods: []string{"publickey"}, Err: err}
	}
	return err
}

// attempted extracts the list in "attempted methods [none publickey]".
func attempted(msg string) []string {
	const tag = "attempted methods ["
	i := strings.Index(msg, tag)
	if i < 0 {
		return nil
	}
	rest := msg[i+len(tag):]
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return nil
	}
	return strings.Fields(rest[:j])
}
