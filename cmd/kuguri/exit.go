package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// Exit codes: the contract in DESIGN.md.
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2 // usage or configuration error
	exitHostKey  = 3
	exitAuth     = 4
	exitNetwork  = 5
	exitForward  = 6
	exitSIGINT   = 130
)

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitStatus carries an exit code chosen by a command (a child command's own
// status under `connect -- CMD`); it prints nothing.
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// isSilent says err needs no message: a child's status is its own business,
// and a signal the user sent needs no explaining.
func isSilent(err error) bool {
	var es *exitStatus
	var sig interrupted
	return errors.As(err, &es) || errors.As(err, &sig)
}

// exitCode maps an error to the documented exit code. This is the only place
// that does.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var es *exitStatus
	if errors.As(err, &es) {
		return es.code
	}
	var sig interrupted
	if errors.As(err, &sig) {
		if sig.sig == syscall.SIGTERM {
			return exitOK
		}
		return exitSIGINT
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue),
		errors.Is(err, profile.ErrInvalid),
		errors.Is(err, profile.ErrNotFound),
		errors.Is(err, control.ErrInUse):
		return exitUsage
	case errors.Is(err, control.ErrNotRunning):
		return exitNetwork
	}
	switch api.KindOf(err) {
	case api.KindConfig:
		return exitUsage
	case api.KindHostKey:
		return exitHostKey
	case api.KindAuth:
		return exitAuth
	case api.KindNetwork:
		return exitNetwork
	case api.KindForward:
		return exitForward
	}
	return exitInternal
}

func isHangup(sig os.Signal) bool { return sig == syscall.SIGHUP }
