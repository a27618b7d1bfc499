package api

import (
	"context"
	"errors"
)

// ErrNoPrompter is returned by a Prompter that cannot ask anyone (headless).
var ErrNoPrompter = errors.New("no terminal to ask")

// Prompter lets the engine ask a person: from a terminal, from the TUI, or
// nobody (headless, which refuses). Implementations must be safe for
// concurrent use and must honour ctx.
type Prompter interface {
	// HostKey asks whether to trust a host key that known_hosts does not
	// hold. It is never called for a changed key: that is refused outright.
	HostKey(ctx context.Context, q HostKeyQuestion) (HostKeyDecision, error)

	// Passphrase asks for a private key's passphrase. The caller owns the
	// returned slice and wipes it when done.
	Passphrase(ctx context.Context, q PassphraseQuestion) ([]byte, error)

	// KeyboardInteractive asks the server's questions (a password, a
	// one-time code) and returns one answer per question.
	KeyboardInteractive(ctx context.Context, q KeyboardInteractiveQuestion) ([]string, error)
}

// HostKeyQuestion describes an unknown host key.
type HostKeyQuestion struct {
	Profile        string
	Hop            int    // 1-based position in the chain
	HopName        string // as the profile names it (alias or host)
	Addr           string // host:port dialled
	KeyType        string // e.g. "ssh-ed25519"
	Fingerprint    string // "SHA256:..."
	KnownHostsFile string // where "accept and save" writes it
}

// HostKeyDecision is the answer to a HostKeyQuestion.
type HostKeyDecision uint8

const (
	Reject        HostKeyDecision = iota
	AcceptOnce                    // trust for this run only
	AcceptAndSave                 // trust and append to known_hosts
)

func (d HostKeyDecision) String() string {
	switch d {
	case AcceptOnce:
		return "accept-once"
	case AcceptAndSave:
		return "accept-and-save"
	default:
		return "reject"
	}
}

// PassphraseQuestion asks for a private key's passphrase.
type PassphraseQuestion struct {
	Profile string
	HopName string
	KeyFile string
	Retry   bool // the previous answer was wrong
}

// KeyboardInteractiveQuestion carries a server's keyboard-interactive
// challenge (or a password request, as one question with Echo false).
type KeyboardInteractiveQuestion struct {
	Profile     string
	HopName     string
	User        string
	Name        string
	Instruction string
	Questions   []string
	Echo        []bool
}

// Headless is the Prompter of a process with nobody to ask: it refuses
// everything with ErrNoPrompter.
type Headless struct{}

var _ Prompter = Headless{}

func (Headless) HostKey(context.Context, HostKeyQuestion) (HostKeyDecision, error) {
	return Reject, ErrNoPrompter
}

func (Headless) Passphrase(context.Context, PassphraseQuestion) ([]byte, error) {
	return nil, ErrNoPrompter
}

func (Headless) KeyboardInteractive(context.Context, KeyboardInteractiveQuestion) ([]string, error) {
	return nil, ErrNoPrompter
}
