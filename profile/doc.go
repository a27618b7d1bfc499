// Package profile is kuguri's configuration model: it loads the YAML config
// (with a private viper instance), merges each hop with ~/.ssh/config
// (kevinburke/ssh_config), validates everything at once, and parses forward
// specs (`-L`-style shorthand included).
//
// It knows nothing of SSH connections or terminals: it must not import
// golang.org/x/crypto/ssh, cobra, bubbletea, lipgloss or any kuguri package.
package profile
