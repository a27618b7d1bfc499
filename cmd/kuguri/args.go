package main

import (
	"github.com/spf13/cobra"
)

// Argument checks, each returning a usageError (exit 2). Table-tested in
// args_test.go.

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	return nil
}

func exactlyOneProfile(_ *cobra.Command, args []string) error {
	switch len(args) {
	case 0:
		return usageErrorf("missing PROFILE (see `kuguri list`)")
	case 1:
		return nil
	}
	return usageErrorf("want one PROFILE, got %d: %q", len(args), args)
}

func atMostOneProfile(_ *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageErrorf("want at most one PROFILE, got %d: %q", len(args), args)
	}
	return nil
}

// connectArgs checks `connect PROFILE [-- CMD ARG...]`: one profile before
// the dash, a command after it (optional).
func connectArgs(cmd *cobra.Command, args []string) error {
	dash := cmd.ArgsLenAtDash()
	before := args
	if dash >= 0 {
		before = args[:dash]
		if len(args[dash:]) == 0 {
			return usageErrorf("nothing after --: give a command to run, or drop the --")
		}
	}
	return exactlyOneProfile(cmd, before)
}

// profilesOrAll checks `down [PROFILE...|--all]` and `up PROFILE...`-style
// lists: names, or the all flag, not both.
func profilesOrAll(args []string, all bool, verb string) error {
	switch {
	case all && len(args) > 0:
		return usageErrorf("%s: give profile names or --all, not both", verb)
	case !all && len(args) == 0:
		return usageErrorf("%s: missing PROFILE (or --all)", verb)
	}
	return nil
}
