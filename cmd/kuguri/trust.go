package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

func newTrustCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "trust PROFILE",
		Short: "Show each hop's host-key fingerprint and add unknown ones to known_hosts",
		Long: `Connect hop by hop, show each unknown host key's SHA256 fingerprint and, after
confirmation, append it to the hop's known_hosts file. A changed key is
refused, never overwritten: remove the old line yourself if the change is
expected.`,
		Args:              exactlyOneProfile,
		ValidArgsFunction: completeProfiles(a, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrust(cmd.Context(), a, args[0], yes)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "add unknown keys without asking (for scripts)")
	return cmd
}

func runTrust(ctx context.Context, a *app, name string, yes bool) error {
	_, r, err := a.resolve(name)
	if err != nil {
		return err
	}
	logger, err := a.logger(a.stderr)
	if err != nil {
		return err
	}
	var pr api.Prompter
	switch tp := a.terminalPrompter().(type) {
	case *termPrompter:
		tp.yes = yes
		pr = tp
	default:
		if !yes {
			return usageErrorf("trust: no terminal to confirm on; use --yes to add unknown keys without asking")
		}
		pr = &termPrompter{out: a.stderr, yes: true}
	}
	rep, err := tunnel.Trust(ctx, r, tunnel.Options{Logger: logger, Prompter: pr, Version: buildVersion(), Getenv: a.getenv})
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, h := range rep.Hops {
		fmt.Fprintf(tw, "hop %d\t%s\t%s\t%s %s\t%s\n", h.Hop, h.Name, h.Addr, h.KeyType, h.Fingerprint, h.Status)
	}
	tw.Flush()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "every hop of %s is trusted\n", name)
	return nil
}
