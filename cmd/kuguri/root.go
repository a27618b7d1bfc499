package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"
)

// globalFlags are the persistent flags that KUGURI_* variables can also set.
var globalFlags = []string{"config", "ssh-config", "socket", "log-level", "log-format"}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "kuguri",
		Short: "Keep SSH tunnels up: named profiles of jump hosts and forwards",
		Long: `kuguri keeps SSH local, dynamic and remote forwards up through chains of jump
hosts: keepalive with a deadline, reconnect with backoff, connections held
during an outage, and a TUI that shows every tunnel's health.

Run it with no arguments on a terminal for the TUI; try "kuguri demo" first.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return runTUI(cmd.Context(), a)
			}
			return cmd.Help()
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err.Error()}
	})

	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "config file (default $KUGURI_CONFIG, else $XDG_CONFIG_HOME/kuguri/config.yaml)")
	pf.StringVar(&a.sshConfig, "ssh-config", "", "ssh_config file (default: the config's ssh_config, else ~/.ssh/config)")
	pf.StringVar(&a.socket, "socket", "", "control socket of a running kuguri up (default $KUGURI_SOCKET, else a private per-user path)")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")

	// A private viper instance gives the global options their precedence:
	// the flag, then KUGURI_<FLAG> from the environment (KUGURI_CONFIG,
	// KUGURI_SSH_CONFIG, KUGURI_SOCKET, KUGURI_LOG_LEVEL, KUGURI_LOG_FORMAT),
	// then the flag's default.
	v := viper.New()
	v.SetEnvPrefix("KUGURI")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	for _, name := range globalFlags {
		if err := v.BindPFlag(name, pf.Lookup(name)); err != nil {
			panic(err) // a flag named above is missing: a bug
		}
		v.BindEnv(name)
	}
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		a.configFile = v.GetString("config")
		a.sshConfig = v.GetString("ssh-config")
		a.socket = v.GetString("socket")
		a.logLevel = v.GetString("log-level")
		a.logFormat = v.GetString("log-format")
		return nil
	}

	root.AddCommand(
		newListCmd(a),
		newShowCmd(a),
		newCheckCmd(a),
		newImportCmd(a),
		newConnectCmd(a),
		newUpCmd(a),
		newStatusCmd(a),
		newDownCmd(a),
		newTrustCmd(a),
		newTUICmd(a),
		newDemoCmd(a),
		newVersionCmd(a),
		newCompletionCmd(a),
	)
	return root
}
