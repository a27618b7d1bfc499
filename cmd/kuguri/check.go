package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/tunnel"
)

func newCheckCmd(a *app) *cobra.Command {
	var offline bool
	cmd := &cobra.Command{
		Use:   "check PROFILE",
		Short: "Validate a profile; online, also dial it and probe every forward's target",
		Long: `Validate the profile and its ssh_config resolution. Without --offline, also dial
every hop, verify host keys, authenticate and open a channel to every
forward's target, reporting each step's time. Exits 0 only if everything
passes, else with the code of the first failure (6 for a dead target).`,
		Args:              exactlyOneProfile,
		ValidArgsFunction: completeProfiles(a, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), a, args[0], offline)
		},
	}
	cmd.Flags().BoolVar(&offline, "offline", false, "validate only; do not connect")
	return cmd
}

func runCheck(ctx context.Context, a *app, name string, offline bool) error {
	_, r, err := a.resolve(name)
	if err != nil {
		return err
	}
	if offline {
		fmt.Fprintf(a.stdout, "%s: configuration ok (%d hop(s): %s; %d forward(s))\n", name, len(r.Hops), hopChain(r.Hops), len(r.Forwards))
		return nil
	}
	logger, err := a.logger(a.stderr)
	if err != nil {
		return err
	}
	report, err := tunnel.Check(ctx, r, tunnel.Options{Logger: logger, Prompter: a.terminalPrompter(), Version: buildVersion(), Getenv: a.getenv})
	printCheckReport(a, report)
	return err
}

// printCheckReport prints one line per hop and per forward with the time each
// step took.
func printCheckReport(a *app, rep tunnel.CheckReport) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, h := range rep.Hops {
		switch {
		case h.Err != nil:
			fmt.Fprintf(tw, "hop %d\t%s\t%s\tFAILED\t%v\n", h.Hop, h.Name, h.Addr, h.Err)
		case h.Connect == 0 && h.Handshake == 0:
			fmt.Fprintf(tw, "hop %d\t%s\t%s\tnot reached\t\n", h.Hop, h.Name, h.Addr)
		default:
			fmt.Fprintf(tw, "hop %d\t%s\t%s\tok\tconnect %s, handshake+auth %s\n", h.Hop, h.Name, h.Addr, ms(h.Connect), ms(h.Handshake))
		}
	}
	for _, f := range rep.Forwards {
		detail := ""
		if f.Duration > 0 {
			detail = ms(f.Duration)
		}
		if f.Err != nil {
			detail += " " + f.Err.Error()
		}
		fmt.Fprintf(tw, "forward\t%s\t%s\t%s\t%s\n", f.Name, f.Target, f.Result, strings.TrimSpace(detail))
	}
	tw.Flush()
}
