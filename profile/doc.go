// Package profile is kuguri's configuration model: it loads the YAML config,
// merges each hop with ~/.ssh/config (kevinburke/ssh_config), validates
// everything at once, and parses forward specs (`-L`-style shorthand
// included).
//
// # API
//
//   - Load(LoadOptions) reads the file (--config, $KUGURI_CONFIG,
//     $XDG_CONFIG_HOME/kuguri/config.yaml, ~/.config/kuguri/config.yaml; see
//     DefaultPath) and the ssh_config file, and returns a validated *Config.
//   - (*Config).Names, Lookup and Resolve: a Resolved profile is its hop
//     chain (Hops[0] dialled first), forwards and settings.
//   - (*Resolved).SSHCommand and ShellJoin: the equivalent OpenSSH command.
//   - ParseForwardSpec: the ssh -L shorthand. ImportHost: a profile, as YAML
//     text, from an ssh_config Host's LocalForward/RemoteForward/DynamicForward.
//
// # Errors
//
// Every configuration problem is a *FieldError (file, line, profile, field,
// message) matching ErrInvalid; Load joins all of them (errors.Join) instead
// of stopping at the first. A missing config file also matches ErrNotFound,
// an unknown profile name ErrUnknownProfile. Problems that do not stop
// loading (an ssh_config Match block that cannot be evaluated) are strings
// in Config.Warnings and Resolved.Warnings, each naming its file.
//
// # SOCKS authentication
//
// A dynamic (SOCKS5) forward may require RFC 1929 username/password
// authentication, which matters once it listens beyond loopback:
//
//	forwards:
//	  - name: socks
//	    type: dynamic
//	    local: 0.0.0.0:1080
//	    allow_non_loopback: true
//	    socks_user: alice
//	    socks_password_env: KUGURI_SOCKS_PASSWORD   # or:
//	    # socks_password_file: ~/.config/kuguri/socks-password
//
// socks_user goes with exactly one password source: socks_password_env
// names an environment variable and socks_password_file a file whose first
// line is the password (~ and paths relative to the config file are
// expanded in Resolved). The password itself never sits in the config: the
// engine reads it when the forward starts, refuses a password file that
// group or others may access, and keeps it in memory only. These keys are
// for dynamic forwards only. A dynamic forward listening beyond loopback
// without socks_user loads, with a Config.Warnings entry saying that anyone
// on that network can use the SSH server as a proxy. ssh -D has no
// authentication, so SSHCommand does not show them.
//
// # Why yaml.v3 nodes, and why no viper here
//
// viper lower-cases map keys and splits them on dots, but profile names are
// case-sensitive and may contain dots ("Prod.DB"), and messages need line
// numbers. So the document is decoded with go.yaml.in/yaml/v3 (the
// maintained yaml.v3, the one viper itself uses) into a yaml.Node tree and
// walked by hand: names, key order and lines survive, unknown keys are
// caught with a "did you mean" hint, and aliases/merge keys are followed
// under a node budget, so a "billion laughs" document is refused rather
// than expanded. The settings layers (built-in defaults, then `defaults:`,
// then the profile's own keys) are stacked by a plain function. viper is not
// imported: it could only redo that stacking here, and the engine (tunnel)
// imports this package, which must not pull viper into it. viper does what
// it is good at in the command (cmd/kuguri): the precedence of flags,
// KUGURI_* environment variables and defaults for the global options. The
// environment is read only through
// LoadOptions.Getenv, and the home directory comes from LoadOptions.Home or
// $HOME, never os/user (which fails under Termux).
//
// # ssh_config
//
// kevinburke/ssh_config does the per-host lookups. kuguri reads Include
// files itself (relative to the given home, in order, depth-limited) and
// fences off Match blocks the library cannot evaluate (it would otherwise
// reject the whole file and every host would silently resolve with no
// settings), with a warning naming file and line. /etc/ssh/ssh_config is not
// read.
//
// # Imports
//
// profile knows nothing of SSH connections, terminals or the command line:
// it must not import golang.org/x/crypto/ssh (or any x/crypto), cobra,
// bubbletea, bubbles, lipgloss, or any kuguri package outside profile/
// (tunnel/api included: the CLI maps ErrInvalid to exit status 2 itself).
// Its dependencies are the standard library, its own leaf
// profile/forwardtype, go.yaml.in/yaml/v3 and
// kevinburke/ssh_config; deps_test.go checks this.
package profile
