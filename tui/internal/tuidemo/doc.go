// Command tuidemo runs the kuguri TUI against a fake in-memory backend, for
// the tmux smoke test (tui/tmux_test.go) and for looking at the TUI by hand:
//
//	go run ./tui/internal/tuidemo
//
// Starting a profile brings it up after a short "connecting" phase; nothing
// touches the network. It must not import the tunnel engine.
package main
