package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/profile"
)

// app is what every command shares: the streams, the environment and the
// global flags. It is built once per run by main (or by a test) and passed to
// the command constructors; nothing here is a package global.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// Global flags.
	configFile string
	sshConfig  string
	socket     string
	logLevel   string
	logFormat  string

	// signals routes SIGINT/SIGTERM/SIGHUP: to a command that asked for them,
	// or else it cancels the command's context.
	signals signalRouter
	// cancel ends the run's context with a cause; set by main.
	cancel context.CancelCauseFunc
}

// cancelWith ends the run's context with cause, as a signal would.
func (a *app) cancelWith(cause error) {
	if a.cancel != nil {
		a.cancel(cause)
	}
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
}

// loadConfig loads and validates the configuration named by the flags and
// the environment.
func (a *app) loadConfig() (*profile.Config, error) {
	cfg, err := profile.Load(profile.LoadOptions{
		File:      a.configFile,
		SSHConfig: a.sshConfig,
		Getenv:    a.getenv,
	})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(a.stderr, "kuguri: warning: %s\n", w)
	}
	return cfg, nil
}

// resolve loads the configuration and resolves one profile.
func (a *app) resolve(name string) (*profile.Config, *profile.Resolved, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	r, err := cfg.Resolve(name)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range r.Warnings {
		if !slices.Contains(cfg.Warnings, w) {
			fmt.Fprintf(a.stderr, "kuguri: warning: %s\n", w)
		}
	}
	return cfg, r, nil
}

// socketPath is the control socket: --socket, $KUGURI_SOCKET, or the default.
func (a *app) socketPath() string {
	if a.socket != "" {
		return a.socket
	}
	return control.DefaultPath(a.getenv)
}

// logger builds the slog logger the flags ask for, writing to w.
func (a *app) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(a.logLevel) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(a.logFormat) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: want text or json", a.logFormat)
}

// signalRouter hands signals to the command that asked for them; with no
// handler set, a signal cancels the run.
type signalRouter struct {
	mu      sync.Mutex
	handler func(os.Signal)
}

// handle makes h receive every signal until the returned func is called.
func (r *signalRouter) handle(h func(os.Signal)) (release func()) {
	r.mu.Lock()
	r.handler = h
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.handler = nil
		r.mu.Unlock()
	}
}

func (r *signalRouter) current() func(os.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handler
}

// interrupted is the cancel cause of a run stopped by a signal.
type interrupted struct{ sig os.Signal }

func (e interrupted) Error() string { return "interrupted by " + e.sig.String() }

var errInterrupted = errors.New("interrupted")

func (e interrupted) Is(target error) bool { return target == errInterrupted }

// main runs the command line args and returns the exit code.
func (a *app) main(ctx context.Context, args []string, sigs <-chan os.Signal) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.cancel = cancel
	if sigs != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-done:
					return
				case sig := <-sigs:
					if h := a.signals.current(); h != nil {
						h(sig)
					} else if !isHangup(sig) {
						cancel(interrupted{sig})
					}
				}
			}
		}()
	}
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil && context.Cause(ctx) != nil && errors.Is(context.Cause(ctx), errInterrupted) {
		err = context.Cause(ctx)
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
	}
	code := exitCode(err)
	if err != nil && !isSilent(err) {
		fmt.Fprintf(a.stderr, "kuguri: %v\n", err)
	}
	return code
}
