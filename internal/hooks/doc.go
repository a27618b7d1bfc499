// Package hooks runs the user's state-change hooks (a profile's on_up and
// on_down commands) without ever holding up the engine.
//
// A hook is run as `sh -c COMMAND`, with sh looked up on PATH (Termux has no
// /bin/sh), stdin from the null device, and stdout and stderr captured to the
// logger (truncated to MaxOutput bytes). It sees the engine's environment,
// filtered (see below), plus:
//
//	KUGURI_PROFILE     the profile's name
//	KUGURI_STATE       the new state (stopped, connecting, up, reconnecting, ...)
//	KUGURI_PREV_STATE  the state before
//	KUGURI_ERROR       the profile's last error, or empty
//
// Environment filter: a variable is dropped when its name, upper-cased,
// starts with KUGURI_ (only the four above are passed, so an inherited one
// cannot be mistaken for ours), or contains PASS (PASSWORD, PASSPHRASE,
// SSH_ASKPASS, SSH_ASKPASS_REQUIRE), SECRET, TOKEN, CREDENTIAL, PRIVATE,
// APIKEY, API_KEY or COOKIE. Everything else is kept, SSH_AUTH_SOCK
// included: it is a socket path, not a secret, and a hook may need ssh.
//
// Scheduling: Fire never blocks. Each profile has at most one hook running
// and at most one waiting; a newer event for a busy profile replaces the
// waiting one (latest wins), so a flapping link cannot queue up hooks. A hook
// is killed after the Runner's timeout — with its whole process group on
// Unix, so `sleep 60 &` inside it dies too. Close waits for running and
// waiting hooks, bounded by that same timeout, then kills what is left.
//
// hooks imports only the standard library. It must not import the tunnel
// engine, profile, the TUI or any CLI/config library: the engine calls it
// with plain strings.
package hooks
