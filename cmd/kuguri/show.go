package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newShowCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "show PROFILE",
		Short:             "Show the resolved profile and the equivalent ssh command line",
		Args:              exactlyOneProfile,
		ValidArgsFunction: completeProfiles(a, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runShow(a, args[0], asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func runShow(a *app, name string, asJSON bool) error {
	_, r, err := a.resolve(name)
	if err != nil {
		return err
	}
	v := resolvedView(r, true)
	if asJSON {
		return writeJSON(a.stdout, v)
	}
	w := a.stdout
	fmt.Fprintf(w, "profile %s\n", r.Name)
	if r.OnDemand {
		fmt.Fprintf(w, "  on demand, idle timeout %s\n", r.Settings.IdleTimeout)
	}
	fmt.Fprintln(w, "hops (first dialled first):")
	for i, h := range r.Hops {
		via := "tcp"
		if h.ProxyCommand != "" {
			via = "ProxyCommand " + h.ProxyCommand
		}
		fmt.Fprintf(w, "  %d. %s  %s@%s  via %s\n", i+1, h.Name, h.User, h.Addr(), via)
		keys := strings.Join(h.IdentityFiles, ", ")
		if h.IdentityFilesDefault {
			keys = "OpenSSH defaults (those that exist)"
		}
		fmt.Fprintf(w, "     keys: %s\n", keys)
		if len(h.CertificateFiles) > 0 {
			fmt.Fprintf(w, "     certificates: %s\n", strings.Join(h.CertificateFiles, ", "))
		}
		fmt.Fprintf(w, "     known_hosts: %s (StrictHostKeyChecking %s)\n", strings.Join(h.KnownHostsFiles, ", "), h.StrictHostKeyChecking)
	}
	if len(r.Forwards) == 0 {
		fmt.Fprintln(w, "forwards: none")
	} else {
		fmt.Fprintln(w, "forwards:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range r.Forwards {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Type, forwardLine(f))
		}
		tw.Flush()
	}
	s := r.Settings
	fmt.Fprintf(w, "keepalive: every %s, dead after %d missed; connect timeout %s; reconnect %s..%s\n",
		s.KeepaliveInterval, s.KeepaliveCountMax, s.ConnectTimeout, s.Reconnect.Initial, s.Reconnect.Max)
	fmt.Fprintf(w, "ssh equivalent:\n  %s\n", v.SSHCommand)
	return nil
}
