package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

func newUpCmd(a *app) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "up PROFILE...",
		Short: "Hold profiles up headless until SIGINT/SIGTERM; serve the control socket",
		Long: `Hold the profiles up until SIGINT or SIGTERM, retrying forever, logging state
changes to stderr, serving the control socket for status, down and tui.
SIGHUP reloads the config: changed profiles restart, the others are untouched.

If another kuguri up already serves the socket, the profiles are handed to it
(when its config knows them) and this command exits 0.`,
		ValidArgsFunction: completeProfiles(a, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := profilesOrAll(args, all, "up"); err != nil {
				return err
			}
			return runUp(cmd.Context(), a, args, all)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "hold up every profile in the config")
	return cmd
}

func runUp(ctx context.Context, a *app, names []string, all bool) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if all {
		names = cfg.Names()
	}
	for _, n := range names {
		if _, err := cfg.Resolve(n); err != nil {
			return err
		}
	}
	logger, err := a.logger(a.stderr)
	if err != nil {
		return err
	}

	path := a.socketPath()
	ln, err := control.Listen(path)
	if errors.Is(err, control.ErrInUse) {
		return handOver(ctx, a, path, names)
	}
	if err != nil {
		return err
	}

	m := tunnel.NewManager(cfg, tunnel.Options{
		Logger:   logger,
		Prompter: api.Headless{},
		Version:  buildVersion(),
		Getenv:   a.getenv,
	})

	// The manager and the socket outlive the signal that stops them: they are
	// shut down in order below.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var runErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		runErr = m.Run(runCtx)
	}()
	go func() {
		defer wg.Done()
		if err := control.Serve(runCtx, ln, m, logger); err != nil {
			logger.Error("control socket stopped", "err", err)
		}
	}()
	defer func() {
		stop()
		wg.Wait()
	}()

	hup := make(chan struct{}, 1)
	release := a.signals.handle(func(sig os.Signal) {
		if sig == syscall.SIGHUP {
			select {
			case hup <- struct{}{}:
			default:
			}
			return
		}
		a.cancelWith(interrupted{sig})
	})
	defer release()

	if err := m.Start(ctx, names...); err != nil {
		return err
	}
	logger.Info("kuguri up", "profiles", names, "socket", path, "pid", os.Getpid(), "version", buildVersion())

	for {
		select {
		case <-ctx.Done():
			cause := context.Cause(ctx)
			logger.Info("stopping", "reason", cause)
			stop()
			wg.Wait()
			if runErr != nil {
				return runErr
			}
			return cause
		case <-hup:
			reload(a, m, logger)
		}
	}
}

// reload re-reads the config on SIGHUP. A bad config is logged and ignored:
// the running profiles stay as they are.
func reload(a *app, m *tunnel.Manager, logger *slog.Logger) {
	cfg, err := profile.Load(profile.LoadOptions{File: a.configFile, SSHConfig: a.sshConfig, Getenv: a.getenv})
	if err != nil {
		logger.Error("reload failed; keeping the running config", "err", err)
		return
	}
	m.Reload(cfg)
	logger.Info("config reloaded", "file", cfg.File)
}

// handOver gives the profiles to the kuguri up already serving path.
func handOver(ctx context.Context, a *app, path string, names []string) error {
	c, err := control.Dial(ctx, path)
	if err != nil {
		return fmt.Errorf("%w: %s", control.ErrInUse, path)
	}
	defer c.Close()
	snap, err := c.Snapshot(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := snap.Find(n); !ok {
			return fmt.Errorf("%w (%s), and its config has no profile %q: stop it first (kuguri down --all, then signal it) or use another --socket", control.ErrInUse, path, n)
		}
	}
	if err := c.Start(ctx, names...); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "kuguri: handed %v to the kuguri up already running on %s\n", names, path)
	return nil
}
