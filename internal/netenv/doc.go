// Package netenv works around the traps of running kuguri as an ordinary
// app on Android under Termux, where much of what Go assumes about a Unix
// system is missing:
//
//   - there is no /etc/resolv.conf, so Go's resolver falls back to
//     127.0.0.1:53 and [::1]:53 and every lookup fails. Resolver reads
//     $PREFIX/etc/resolv.conf instead (Termux ships one), or a resolver the
//     user configured, and returns a *net.Resolver that dials those servers;
//   - os/user.Current may fail (no passwd entry for the app's uid): Home and
//     UserName read $HOME, $USER and $LOGNAME and never import os/user;
//   - there is no /tmp: RuntimeDir prefers $XDG_RUNTIME_DIR, then $TMPDIR
//     (Termux sets it), then a directory under $HOME for sockets;
//   - StateDir gives the directory for logs kept across runs.
//
// Every function takes its environment as arguments (a Getenv function, an
// Env with ReadFile and GOOS), so tests never touch the real environment.
//
// netenv imports only the standard library. It must not import os/user (it
// exists to avoid it), x/crypto/ssh, the engine, the TUI or any config/CLI
// library.
package netenv
