package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/tunnel/api"
)

type statusOptions struct {
	profile string
	asJSON  bool
	watch   bool
}

func newStatusCmd(a *app) *cobra.Command {
	var opts statusOptions
	cmd := &cobra.Command{
		Use:               "status [PROFILE]",
		Short:             "Show the state of a running `kuguri up`",
		Args:              atMostOneProfile,
		ValidArgsFunction: completeProfiles(a, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.profile = args[0]
			}
			return runStatus(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.asJSON, "json", false, "print JSON ({\"profiles\":[...]})")
	cmd.Flags().BoolVar(&opts.watch, "watch", false, "keep printing on every change")
	return cmd
}

func runStatus(ctx context.Context, a *app, opts statusOptions) error {
	c, err := control.Dial(ctx, a.socketPath())
	if err != nil {
		return err
	}
	defer c.Close()
	if !opts.watch {
		snap, err := c.Snapshot(ctx)
		if err != nil {
			return err
		}
		return printStatus(a.stdout, snap, opts)
	}
	ch, err := c.Watch(ctx)
	if err != nil {
		return err
	}
	for snap := range ch {
		if err := printStatus(a.stdout, snap, opts); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return api.Errorf(api.KindNetwork, "the kuguri up on %s went away", a.socketPath())
}

func printStatus(w io.Writer, snap api.Snapshot, opts statusOptions) error {
	if opts.profile != "" {
		p, ok := snap.Find(opts.profile)
		if !ok {
			var names []string
			for _, p := range snap.Profiles {
				names = append(names, p.Name)
			}
			return usageErrorf("the running kuguri up has no profile %q (it has: %s)", opts.profile, strings.Join(names, ", "))
		}
		snap.Profiles = []api.Profile{p}
	}
	if snap.Profiles == nil {
		snap.Profiles = []api.Profile{}
	}
	if opts.asJSON {
		for i := range snap.Profiles {
			snap.Profiles[i].Events = nil
			if snap.Profiles[i].Forwards == nil {
				snap.Profiles[i].Forwards = []api.Forward{}
			}
		}
		return writeJSON(w, snap)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tSTATE\tFOR\tRTT\tRECONNECTS\tLAST ERROR")
	for _, p := range snap.Profiles {
		rtt := "-"
		if p.RTTMillis > 0 {
			rtt = fmt.Sprintf("%.1fms", p.RTTMillis)
		}
		since := "-"
		if !p.Since.IsZero() {
			since = time.Since(p.Since).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.Name, stateText(p), since, rtt, p.Reconnects, p.LastError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var rows int
	for _, p := range snap.Profiles {
		rows += len(p.Forwards)
	}
	if rows == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tFORWARD\tSTATE\tADDRESSES\tCONN\tIN\tOUT\tLAST ERROR")
	for _, p := range snap.Profiles {
		for _, f := range p.Forwards {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n",
				p.Name, f.Name, f.State, forwardSummary(f), f.Active, f.Total, humanBytes(f.BytesIn), humanBytes(f.BytesOut), f.LastError)
		}
	}
	return tw.Flush()
}

func stateText(p api.Profile) string {
	s := p.State.String()
	if p.State == api.Reconnecting && p.Attempt > 0 {
		s += fmt.Sprintf(" (attempt %d)", p.Attempt)
	}
	if p.Note != "" {
		s += ": " + p.Note
	}
	return s
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
