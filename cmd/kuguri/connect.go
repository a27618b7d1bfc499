package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

type connectOptions struct {
	profile      string
	readyTimeout time.Duration
	command      []string
}

func newConnectCmd(a *app) *cobra.Command {
	var opts connectOptions
	cmd := &cobra.Command{
		Use:   "connect PROFILE [-- CMD ARG...]",
		Short: "Connect once, print the forwards, run CMD through them",
		Long: `Connect the profile, wait until every forward is ready and print one line per
forward. With CMD, run it with each forward's address in the environment
(KUGURI_<NAME>_ADDR, KUGURI_<NAME>_PORT) and {name} in its arguments replaced
by host:port, tear the tunnel down when it exits and exit with its status.
Without CMD, stay up until interrupted. Fails fast if the first connection
fails; reconnects if the link drops later.

  kuguri connect win -- xfreerdp /v:{rdp}
  kuguri connect vps -- sh -c 'psql -h 127.0.0.1 -p "$KUGURI_DB_PORT"'

CMD is run directly, not through a shell: use {name} in its arguments, or
sh -c '...' to expand the variables.`,
		Args:              connectArgs,
		ValidArgsFunction: completeProfiles(a, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				opts.command = args[dash:]
				args = args[:dash]
			}
			opts.profile = args[0]
			return runConnect(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().DurationVar(&opts.readyTimeout, "ready-timeout", time.Minute, "give up if the forwards are not ready within this long")
	return cmd
}

func runConnect(ctx context.Context, a *app, opts connectOptions) error {
	cfg, r, err := a.resolve(opts.profile)
	if err != nil {
		return err
	}
	logger, err := a.logger(a.stderr)
	if err != nil {
		return err
	}
	// Only this profile matters: a manager over a config holding just it.
	one := *cfg
	one.Profiles = map[string]*profile.Profile{opts.profile: cfg.Profiles[opts.profile]}
	m := tunnel.NewManager(&one, tunnel.Options{
		Logger:   logger,
		Prompter: a.terminalPrompter(),
		Version:  buildVersion(),
		Getenv:   a.getenv,
	})

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	defer func() {
		stop()
		<-runDone
	}()

	if err := m.Start(ctx, opts.profile); err != nil {
		return err
	}
	readyCtx, cancelReady := context.WithTimeout(ctx, opts.readyTimeout)
	p, err := m.WaitReady(readyCtx, opts.profile)
	cancelReady()
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return api.Errorf(api.KindNetwork, "profile %q: forwards not ready within %s", opts.profile, opts.readyTimeout)
		}
		return err
	}

	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, f := range p.Forwards {
		fmt.Fprintf(tw, "%s\t%s\n", f.Name, forwardSummary(f))
	}
	tw.Flush()
	_ = r

	if len(opts.command) == 0 {
		// Stay up until interrupted: SIGINT exits 130, SIGTERM 0.
		<-ctx.Done()
		return context.Cause(ctx)
	}
	return runChild(ctx, a, opts.command, p.Forwards)
}

// forwardSummary is "127.0.0.1:5432 -> 127.0.0.1:5432" for a running
// forward.
func forwardSummary(f api.Forward) string { return describeForward(f.Type, f.Listen, f.Target) }

// runChild runs the user's command with the forwards substituted, passing on
// SIGINT/SIGTERM, and returns its exit status.
func runChild(ctx context.Context, a *app, command []string, fwds []api.Forward) error {
	argv := substitute(command, fwds)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return usageErrorf("connect: %v", err)
	}
	c := exec.Command(path, argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = a.stdin, a.stdout, a.stderr
	c.Env = append(os.Environ(), forwardEnv(fwds)...)
	if err := c.Start(); err != nil {
		return fmt.Errorf("connect: start %s: %w", argv[0], err)
	}
	release := a.signals.handle(func(sig os.Signal) {
		if sig == syscall.SIGHUP {
			return
		}
		_ = c.Process.Signal(sig)
	})
	defer release()
	err = c.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &exitStatus{128 + int(ws.Signal())}
		}
		return &exitStatus{ee.ExitCode()}
	}
	return fmt.Errorf("connect: %s: %w", argv[0], err)
}

// substitute replaces {name} in args with that forward's host:port.
func substitute(args []string, fwds []api.Forward) []string {
	pairs := make([]string, 0, 2*len(fwds))
	for _, f := range fwds {
		pairs = append(pairs, "{"+f.Name+"}", f.Listen)
	}
	rep := strings.NewReplacer(pairs...)
	out := make([]string, len(args))
	for i, s := range args {
		out[i] = rep.Replace(s)
	}
	return out
}

// forwardEnv returns KUGURI_<NAME>_ADDR and KUGURI_<NAME>_PORT for every
// forward (name upper-cased, non-alphanumerics as _).
func forwardEnv(fwds []api.Forward) []string {
	var env []string
	for _, f := range fwds {
		key := envName(f.Name)
		env = append(env, "KUGURI_"+key+"_ADDR="+f.Listen)
		if i := strings.LastIndexByte(f.Listen, ':'); i >= 0 {
			if _, err := strconv.Atoi(f.Listen[i+1:]); err == nil {
				env = append(env, "KUGURI_"+key+"_PORT="+f.Listen[i+1:])
			}
		}
	}
	return env
}

func envName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
