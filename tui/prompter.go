package tui

import (
	"context"
	"errors"
	"fmt"
	"sync"

	tea "charm.land/bubbletea/v2"

	"github.com/kuguri/kuguri/tunnel/api"
)

// ErrCancelled is wrapped by the error a Prompter returns when the user
// dismisses a passphrase or keyboard-interactive prompt (esc). Those errors
// also wrap api.ErrAuth, so the engine classifies them as an authentication
// failure.
var ErrCancelled = errors.New("prompt cancelled by the user")

// Prompter is the api.Prompter of an engine that runs in the same process as
// the TUI: each question is shown inside the program. Every method blocks the
// calling (engine) goroutine until the user answers, ctx ends, or the program
// has exited; the TUI's own goroutine never waits on it.
//
// A Prompter serves one Run: once that Run returns, further questions fail
// at once with api.ErrNoPrompter. Answers travel over channels straight to
// the caller; they are never logged.
type Prompter struct {
	reqs chan *promptRequest // unbuffered: a send means the TUI took the request

	closeOnce sync.Once
	closed    chan struct{} // closed when the TUI has gone
}

var _ api.Prompter = (*Prompter)(nil)

// NewPrompter returns a Prompter to pass both to the engine and to Run (in
// Options.Prompter).
func NewPrompter() *Prompter {
	return &Prompter{reqs: make(chan *promptRequest), closed: make(chan struct{})}
}

// close makes every pending and future question fail with ErrNoPrompter.
func (p *Prompter) close() { p.closeOnce.Do(func() { close(p.closed) }) }

type promptKind uint8

const (
	promptHostKey promptKind = iota
	promptPassphrase
	promptKI
)

// promptRequest is one question on its way to the TUI.
type promptRequest struct {
	ctx     context.Context
	kind    promptKind
	hostKey api.HostKeyQuestion
	pass    api.PassphraseQuestion
	ki      api.KeyboardInteractiveQuestion

	reply    chan promptReply // buffered 1: the TUI never blocks answering
	doneOnce sync.Once
	done     chan struct{} // closed once answered
}

type promptReply struct {
	decision api.HostKeyDecision
	secret   []byte
	answers  []string
	err      error
}

// answer delivers r to the engine-side caller, once; later answers are
// dropped. It never blocks.
func (r *promptRequest) answer(rep promptReply) {
	r.doneOnce.Do(func() {
		r.reply <- rep
		close(r.done)
	})
}

// ask hands req to the TUI and waits for the answer.
func (p *Prompter) ask(ctx context.Context, req *promptRequest) (promptReply, error) {
	req.ctx = ctx
	req.reply = make(chan promptReply, 1)
	req.done = make(chan struct{})
	select {
	case p.reqs <- req:
	case <-p.closed:
		return promptReply{}, api.ErrNoPrompter
	case <-ctx.Done():
		return promptReply{}, ctx.Err()
	}
	select {
	case rep := <-req.reply:
		return rep, rep.err
	case <-p.closed:
		return promptReply{}, api.ErrNoPrompter
	case <-ctx.Done():
		return promptReply{}, ctx.Err()
	}
}

// HostKey asks whether to trust an unknown host key.
func (p *Prompter) HostKey(ctx context.Context, q api.HostKeyQuestion) (api.HostKeyDecision, error) {
	rep, err := p.ask(ctx, &promptRequest{kind: promptHostKey, hostKey: q})
	if err != nil {
		return api.Reject, fmt.Errorf("profile %s: hop %d (%s): host key question: %w", q.Profile, q.Hop, q.HopName, err)
	}
	return rep.decision, nil
}

// Passphrase asks for a private key's passphrase. The caller owns (and
// wipes) the returned slice.
func (p *Prompter) Passphrase(ctx context.Context, q api.PassphraseQuestion) ([]byte, error) {
	rep, err := p.ask(ctx, &promptRequest{kind: promptPassphrase, pass: q})
	if err != nil {
		return nil, fmt.Errorf("profile %s: hop %s: passphrase for %s: %w", q.Profile, q.HopName, q.KeyFile, err)
	}
	return rep.secret, nil
}

// KeyboardInteractive asks a server's questions, one input each.
func (p *Prompter) KeyboardInteractive(ctx context.Context, q api.KeyboardInteractiveQuestion) ([]string, error) {
	if len(q.Questions) == 0 {
		// Nothing to answer (servers send empty rounds): do not bother anyone.
		return []string{}, nil
	}
	rep, err := p.ask(ctx, &promptRequest{kind: promptKI, ki: q})
	if err != nil {
		return nil, fmt.Errorf("profile %s: hop %s: keyboard-interactive for %s: %w", q.Profile, q.HopName, q.User, err)
	}
	return rep.answers, nil
}

// promptMsg carries a new question into the program.
type promptMsg struct{ req *promptRequest }

// promptGoneMsg says a question's ctx ended before the user answered.
type promptGoneMsg struct{ req *promptRequest }

// waitPrompt is the re-arming command that listens for the next question.
// It returns nil (no message) once the Prompter is closed or ctx ends.
func waitPrompt(ctx context.Context, p *Prompter) tea.Cmd {
	return func() tea.Msg {
		select {
		case req := <-p.reqs:
			return promptMsg{req: req}
		case <-p.closed:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// watchPromptCtx reports when the question's ctx ends first.
func watchPromptCtx(req *promptRequest) tea.Cmd {
	return func() tea.Msg {
		select {
		case <-req.ctx.Done():
			return promptGoneMsg{req: req}
		case <-req.done:
			return nil
		}
	}
}

func cancelledErr() error { return fmt.Errorf("%w: %w", ErrCancelled, api.ErrAuth) }
