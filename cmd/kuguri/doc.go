// Command kuguri keeps SSH tunnels up: named profiles of jump-host chains and
// their forwards, held up on their own, with a TUI, a headless mode and a
// one-shot connect command.
//
// This package is thin: one file per cobra command, each built by a
// constructor; flags are parsed here and the work is done by profile, tunnel,
// tui and the internal packages. Exit codes come from error classes in one
// place (exit.go).
package main
