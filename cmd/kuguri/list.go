package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newListCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List profiles with their hops and forwards",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(a, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func runList(a *app, asJSON bool) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	var views []profileJSON
	for _, name := range cfg.Names() {
		r, err := cfg.Resolve(name)
		if err != nil {
			views = append(views, profileJSON{Name: name, Error: err.Error()})
			continue
		}
		views = append(views, resolvedView(r, false))
	}
	if asJSON {
		if views == nil {
			views = []profileJSON{}
		}
		return writeJSON(a.stdout, struct {
			Profiles []profileJSON `json:"profiles"`
		}{views})
	}
	if len(views) == 0 {
		fmt.Fprintf(a.stdout, "no profiles in %s\n", cfg.File)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tHOPS\tFORWARDS")
	for _, v := range views {
		if v.Error != "" {
			fmt.Fprintf(tw, "%s\t-\terror: %s\n", v.Name, v.Error)
			continue
		}
		var hops []string
		for _, h := range v.Hops {
			hops = append(hops, h.Name)
		}
		var fwds []string
		for _, f := range v.Forwards {
			fwds = append(fwds, f.Name)
		}
		if len(fwds) == 0 {
			fwds = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, strings.Join(hops, " -> "), strings.Join(fwds, ", "))
	}
	return tw.Flush()
}
