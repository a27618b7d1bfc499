package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/internal/netenv"
	"github.com/kuguri/kuguri/tui"
	"github.com/kuguri/kuguri/tunnel"
)

func newTUICmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Open the TUI; attaches to a running `kuguri up` if one serves the socket",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTUI(cmd.Context(), a)
		},
	}
}

// tuiLogger opens the log file the TUI writes to while it owns the terminal.
func (a *app) tuiLogger() (*slog.Logger, func(), error) {
	dir := netenv.StateDir(a.getenv)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "kuguri.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	logger, err := a.logger(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return logger, func() { f.Close() }, nil
}

func runTUI(ctx context.Context, a *app) error {
	logger, closeLog, err := a.tuiLogger()
	if err != nil {
		return err
	}
	defer closeLog()

	// Attach to a running `kuguri up` when one serves the socket.
	if c, err := control.Dial(ctx, a.socketPath()); err == nil {
		defer c.Close()
		return tui.Run(ctx, tui.Options{Backend: c, Attached: true, Logger: logger})
	}

	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	prompter := tui.NewPrompter()
	m := tunnel.NewManager(cfg, tunnel.Options{
		Logger:   logger,
		Prompter: prompter,
		Version:  buildVersion(),
		Getenv:   a.getenv,
	})
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	err = tui.Run(ctx, tui.Options{Backend: m, Prompter: prompter, Logger: logger})
	stop()
	if runErr := <-done; err == nil {
		err = runErr
	}
	return err
}
