package main

import (
	"fmt"
	"github.com/kuguri/kuguri/profile"

	"github.com/spf13/cobra"
)

func newImportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "import HOST",
		Short: "Print a profile built from an ssh_config Host's forwards (writes nothing)",
		Long: `Print a kuguri profile, as YAML, built from the ssh_config Host entry's
HostName, Port, User and its LocalForward, RemoteForward and DynamicForward
lines. Nothing is written: paste it under profiles: in your config.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("import: want one HOST (an ssh_config Host alias)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(a, args[0])
		},
	}
}

func runImport(a *app, host string) error {
	path := a.sshConfig
	if path == "" {
		// The config file may name the ssh_config; it may also not exist yet,
		// which is the usual case for someone importing.
		if cfg, err := a.loadConfig(); err == nil {
			path = cfg.SSHConfig
		}
	}
	out, err := importHost(a, path, host)
	if err != nil {
		return err
	}
	fmt.Fprint(a.stdout, out)
	return nil
}

func importHost(a *app, sshConfigPath, host string) (string, error) {
	return profile.ImportHost(sshConfigPath, host, profile.LoadOptions{Getenv: a.getenv})
}
