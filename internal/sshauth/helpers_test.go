package sshauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/kuguri/kuguri/tunnel/api"
)

// scripted is a Prompter that answers from scripts and records questions.
type scripted struct {
	t *testing.T

	mu          sync.Mutex
	passphrases []string // answered in order; running out is an error
	passAsked   []api.PassphraseQuestion
	given       [][]byte // the slices handed out, to check they were wiped
	ki          func(api.KeyboardInteractiveQuestion) ([]string, error)
	kiAsked     []api.KeyboardInteractiveQuestion
	noPass      bool // fail the test if asked for a passphrase
}

var _ api.Prompter = (*scripted)(nil)

func (s *scripted) HostKey(context.Context, api.HostKeyQuestion) (api.HostKeyDecision, error) {
	return api.Reject, errors.New("unexpected host key question")
}

func (s *scripted) Passphrase(_ context.Context, q api.PassphraseQuestion) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passAsked = append(s.passAsked, q)
	if s.noPass {
		s.t.Errorf("passphrase asked for %s, which should not have been needed", q.KeyFile)
	}
	if len(s.passphrases) == 0 {
		return nil, errors.New("no more passphrases scripted")
	}
	p := []byte(s.passphrases[0])
	s.passphrases = s.passphrases[1:]
	s.given = append(s.given, p)
	return p, nil
}

func (s *scripted) KeyboardInteractive(_ context.Context, q api.KeyboardInteractiveQuestion) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kiAsked = append(s.kiAsked, q)
	if s.ki == nil {
		return nil, errors.New("no keyboard-interactive answers scripted")
	}
	return s.ki(q)
}

func (s *scripted) passCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.passAsked)
}

// checkWiped fails unless every passphrase handed out was zeroed.
func (s *scripted) checkWiped(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.given {
		if len(bytes.Trim(p, "\x00")) != 0 {
			t.Errorf("passphrase #%d was not wiped after use", i+1)
		}
	}
}

// logBuf captures a logger's output at debug level.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
