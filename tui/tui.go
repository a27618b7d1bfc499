package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/kuguri/kuguri/tunnel/api"
)

// Options configure the TUI.
type Options struct {
	// Backend is the engine: in-process, or a client of a running `kuguri up`.
	Backend api.Backend
	// Prompter is non-nil when the engine runs in-process: its questions
	// then appear inside the TUI. Give the same value to the engine.
	Prompter *Prompter
	// Attached says the Backend is a running `kuguri up`: the TUI says so, and
	// quitting leaves the tunnels up.
	Attached bool
	// Banner is one line shown on top, e.g. the demo's "try: curl ...".
	Banner string
	// Actions add keys of their own (the demo's fault buttons).
	Actions []Action
	// Logger receives the TUI's logs (never secrets); the CLI points it at a
	// file while the TUI owns the terminal. nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Golden tests freeze it.
	Now func() time.Time
}

// Action is an extra key: Run is called in a tea.Cmd (never in Update) with
// the program's context, and its error, if any, is shown on the status line.
type Action struct {
	Key  string
	Help string
	Run  func(ctx context.Context) error
}

// Run runs the TUI on the terminal until the user quits (nil) or ctx ends
// (ctx's error). When it returns, the Watch subscription has been cancelled
// and opts.Prompter refuses further questions with api.ErrNoPrompter.
// Quitting does not stop any profile: the caller decides what quitting
// means for an in-process engine.
func Run(ctx context.Context, opts Options) error {
	if opts.Backend == nil {
		return errors.New("tui: no backend")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Prompter != nil {
		defer opts.Prompter.close()
	}
	m := newModel(runCtx, opts)
	p := tea.NewProgram(m, tea.WithContext(runCtx))
	_, err := p.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled):
		return ctx.Err()
	}
	return fmt.Errorf("tui: %w", err)
}

// New returns the TUI's model, for tests: its Watch subscription and
// commands use context.Background.
func New(opts Options) Model { return newModel(context.Background(), opts) }
