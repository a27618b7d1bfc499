package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kuguri/kuguri/internal/control"
)

func newDownCmd(a *app) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:               "down [PROFILE...|--all]",
		Short:             "Stop profiles in a running `kuguri up`",
		ValidArgsFunction: completeProfiles(a, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := profilesOrAll(args, all, "down"); err != nil {
				return err
			}
			return runDown(cmd.Context(), a, args)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "stop every profile")
	return cmd
}

func runDown(ctx context.Context, a *app, names []string) error {
	c, err := control.Dial(ctx, a.socketPath())
	if err != nil {
		return err
	}
	defer c.Close()
	if len(names) > 0 {
		snap, err := c.Snapshot(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			if _, ok := snap.Find(n); !ok {
				return usageErrorf("the running kuguri up has no profile %q", n)
			}
		}
	}
	if err := c.Stop(ctx, names...); err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintln(a.stderr, "kuguri: stopped every profile")
	} else {
		fmt.Fprintf(a.stderr, "kuguri: stopped %v\n", names)
	}
	return nil
}
