package api

import (
	"errors"
	"fmt"
)

// ErrorKind classifies a failure. Callers branch on it (exit codes, retry
// policy, the TUI's wording); its text form is stable.
type ErrorKind string

const (
	KindNone     ErrorKind = ""
	KindConfig   ErrorKind = "config"   // the profile cannot be used as written
	KindHostKey  ErrorKind = "hostkey"  // unknown, changed or revoked host key
	KindAuth     ErrorKind = "auth"     // every authentication method failed
	KindNetwork  ErrorKind = "network"  // unreachable, timed out, connection lost
	KindForward  ErrorKind = "forward"  // local port in use, remote target refused
	KindInternal ErrorKind = "internal" // a bug
)

// Sentinels for errors.Is. Engine errors wrap exactly one of them.
var (
	ErrConfig  = errors.New("configuration error")
	ErrHostKey = errors.New("host key verification failed")
	ErrAuth    = errors.New("authentication failed")
	ErrNetwork = errors.New("network error")
	ErrForward = errors.New("forward failed")
)

// KindOf returns the class of err, KindInternal when it has none.
func KindOf(err error) ErrorKind {
	switch {
	case err == nil:
		return KindNone
	case errors.Is(err, ErrHostKey):
		return KindHostKey
	case errors.Is(err, ErrAuth):
		return KindAuth
	case errors.Is(err, ErrConfig):
		return KindConfig
	case errors.Is(err, ErrForward):
		return KindForward
	case errors.Is(err, ErrNetwork):
		return KindNetwork
	}
	return KindInternal
}

// Sentinel returns the sentinel error of kind k, nil for KindNone and
// KindInternal.
func (k ErrorKind) Sentinel() error {
	switch k {
	case KindConfig:
		return ErrConfig
	case KindHostKey:
		return ErrHostKey
	case KindAuth:
		return ErrAuth
	case KindNetwork:
		return ErrNetwork
	case KindForward:
		return ErrForward
	}
	return nil
}

// KindError attaches a kind to a message, for errors rebuilt from text (the
// control-socket client) or made by code that has no richer type.
type KindError struct {
	Kind ErrorKind
	Msg  string
}

func (e *KindError) Error() string { return e.Msg }

func (e *KindError) Unwrap() error { return e.Kind.Sentinel() }

// Errorf builds an error of kind k.
func Errorf(k ErrorKind, format string, args ...any) error {
	return &KindError{Kind: k, Msg: fmt.Sprintf(format, args...)}
}
