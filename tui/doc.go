// Package tui is kuguri's terminal user interface: a bubbletea v2 program that
// shows every profile's state, hop chain, keepalive round trip, uptime and
// forwards (with connection counts, traffic and rates), lets the user start,
// stop and reconnect profiles, and answers the engine's questions (unknown
// host keys, key passphrases, keyboard-interactive challenges) inside the
// program through a Prompter.
//
// The TUI sees the engine only through tunnel/api: api.Backend for actions and
// the Watch subscription, api.Snapshot for state, api.Prompter for questions.
// It therefore works the same with an in-process engine and with a client of
// a running `kuguri up`.
//
// It must not import golang.org/x/crypto/ssh or anything that pulls it in (the
// tunnel package itself), cobra or viper; deps_test.go keeps that true. Update
// never blocks: every Backend call and every wait runs in a tea.Cmd. Secrets
// typed into prompts go straight back to the engine's caller and are never
// logged or rendered in clear.
package tui
