package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/internal/demo"
	"github.com/kuguri/kuguri/tui"
	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

func newDemoCmd(a *app) *cobra.Command {
	var headless bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A self-contained sandbox (embedded SSH servers and services on loopback) in the TUI",
		Long: `Start a sandbox inside this process, all on 127.0.0.1: an embedded SSH server
standing in for a hardened VPS (SSH on a non-22 port, keys only), a bastion in
front of it, and services behind it (an admin web page, an "RDP" banner, a
database echo). Throwaway keys and known_hosts live in a temp dir that is
removed on exit; nothing is written to ~/.ssh or your config.

In the TUI, x cuts the VPS's network silently and K kills it outright: watch
kuguri notice, reconnect and recover. With --headless the same sandbox runs
with up-style logs; type x or k and Enter on stdin for the same faults.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), a, headless)
		},
	}
	cmd.Flags().BoolVar(&headless, "headless", false, "no TUI: log state changes to stderr (scripts, CI, small screens)")
	return cmd
}

func runDemo(ctx context.Context, a *app, headless bool) error {
	var logger *slog.Logger
	var err error
	if headless {
		logger, err = a.logger(a.stderr)
	} else {
		var closeLog func()
		logger, closeLog, err = a.tuiLogger()
		if err == nil {
			defer closeLog()
		}
	}
	if err != nil {
		return err
	}

	sb, err := demo.Start(ctx, demo.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer sb.Close()

	var prompter api.Prompter = api.Headless{}
	var tp *tui.Prompter
	if !headless {
		tp = tui.NewPrompter()
		prompter = tp
	}
	m := tunnel.NewManager(sb.Config, tunnel.Options{Logger: logger, Prompter: prompter, Version: buildVersion(), Getenv: a.getenv})
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.Run(runCtx)
	}()
	defer func() {
		stop()
		wg.Wait()
	}()

	// The control socket only when asked for: a demo must not take the place
	// of a real `kuguri up` on the default socket.
	if a.socket != "" || a.getenv("KUGURI_SOCKET") != "" {
		ln, err := control.Listen(a.socketPath())
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			control.Serve(runCtx, ln, m, logger)
		}()
	}

	if err := m.Start(ctx, sb.Config.Names()...); err != nil {
		return err
	}

	if !headless {
		return tui.Run(ctx, tui.Options{
			Backend:  m,
			Prompter: tp,
			Banner:   sb.Banner(),
			Logger:   logger,
			Actions: []tui.Action{
				{Key: "x", Help: "cut/restore VPS network", Run: func(context.Context) error {
					sb.CutNetwork(!sb.NetworkCut())
					return nil
				}},
				{Key: "K", Help: "kill VPS", Run: func(context.Context) error { return sb.KillVPS() }},
			},
		})
	}

	printServices(a.stdout, sb)
	fmt.Fprintln(a.stdout, "faults: type x + Enter to cut/restore the VPS's network, k + Enter to kill it; Ctrl-C to quit")
	go demoCommands(ctx, a.stdin, sb, logger)
	<-ctx.Done()
	return context.Cause(ctx)
}

func printServices(w io.Writer, sb *demo.Sandbox) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tFORWARD\tLISTEN\tTRY")
	for _, s := range sb.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Profile, s.Forward, s.Listen, s.Try)
	}
	tw.Flush()
}

// demoCommands reads fault commands from stdin until EOF or ctx ends.
func demoCommands(ctx context.Context, in io.Reader, sb *demo.Sandbox, logger *slog.Logger) {
	if in == nil {
		return
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() && ctx.Err() == nil {
		switch strings.TrimSpace(strings.ToLower(sc.Text())) {
		case "x":
			sb.CutNetwork(!sb.NetworkCut())
			logger.Info("demo: VPS network", "cut", sb.NetworkCut())
		case "k":
			if err := sb.KillVPS(); err != nil && !errors.Is(err, context.Canceled) {
				logger.Warn("demo: kill VPS", "err", err)
			}
		case "":
		default:
			logger.Info("demo: unknown command (x: cut/restore network, k: kill VPS)")
		}
	}
}
