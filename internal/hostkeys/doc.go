// Package hostkeys verifies SSH host keys against OpenSSH known_hosts files
// (hashed entries, [host]:port, @cert-authority, @revoked, HostKeyAlias),
// tells the server which key types to offer so a stored ed25519 key is not
// mistaken for a changed one (golang/go#29286), asks a Prompter about
// unknown keys and appends accepted ones atomically.
//
// known_hosts is parsed here, line by line with ssh.ParseKnownHosts, rather
// than through golang.org/x/crypto/ssh/knownhosts or
// github.com/skeema/knownhosts (which wraps it): knownhosts.New refuses a
// whole file when one line is malformed (OpenSSH skips such lines), it has no
// way to list the key types held for a host except through skeema's extra
// parse, and it decides "changed" against keys of any type. Owning the
// parser lets us skip garbage, keep file:line for every entry, match host
// patterns exactly as OpenSSH does (the "[host]:port" string against each
// pattern, with * ? and ! negation, hashed |1| entries) and follow OpenSSH's
// rule that only a different key of the negotiated type is a change.
// Hashing and address normalization reuse x/crypto's knownhosts helpers.
//
// It must not import cobra, viper, bubbletea or the tunnel package.
package hostkeys
