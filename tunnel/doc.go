// Package tunnel is kuguri's engine: it dials a profile's chain of SSH hops
// (TCP or ProxyCommand for the first, each next one through the previous
// client), checks host keys (internal/hostkeys) and authenticates
// (internal/sshauth), serves the profile's forwards (local listeners bridged to
// direct-tcpip channels, a SOCKS5 server for dynamic forwards, tcpip-forward
// for remote ones), and keeps each profile up with one supervisor goroutine:
// keepalive with a deadline, reconnect with capped, jittered backoff,
// listeners kept bound across outages.
//
// On-demand profiles (profile.Resolved.OnDemand) bind their listeners at
// Start and wait in api.Standby with no SSH connection; the first client
// that needs the link makes the supervisor dial (the client is held, at
// most ConnectTimeout, then served). When no client has used any forward
// for Settings.IdleTimeout, the link is closed and the profile is back in
// Standby, listeners still bound. A redial after idling is not counted in
// Reconnects; Reconnect on a profile in Standby dials at once. An on-demand
// profile with a remote forward is refused at Start with api.ErrConfig: a
// remote forward listens on the server, so no local client would ever bring
// its link up.
//
// Health probes: a local forward with probe: true or a probe interval (its
// own or Settings.ProbeInterval; 30s when only probe: true) has its target
// probed while the link is up: a direct-tcpip channel opened and closed at
// once, as the link comes up and then every interval on the injected Clock.
// A dead target sets the forward's LastError and state api.Error and its
// api.Probe; nothing else changes (no reconnect, the profile stays Up).
//
// Dynamic forwards speak SOCKS5 (RFC 1928, CONNECT; names are resolved on
// the server's side) and, with socks_user, RFC 1929 username/password login:
// the password comes from an environment variable or a 0600 file when the
// forward starts, is kept only as a hash, and failed logins are rate-limited
// per client address (socksauth.go).
//
// What a reconnect cannot replay is said in api.Profile.Note while the
// profile is up: keyboard-interactive answers (one-time codes) and a
// security key's touch. A password typed once is kept in memory and
// replayed (internal/sshauth's Cache), as decrypted keys are.
//
// The first hop's host name goes through Options.Resolver: on systems
// without /etc/resolv.conf (Termux) internal/netenv builds one from
// $PREFIX/etc/resolv.conf or the config's resolver:.
//
// Hooks: Settings.OnUp runs when a profile enters Up, Settings.OnDown when
// it leaves Up, through internal/hooks, which never blocks the supervisor;
// the Manager's hook runner is closed when Run returns.
//
// The Manager is the in-process implementation of api.Backend: snapshots of
// every profile, a latest-wins Watch stream, start/stop/reconnect. Check and
// Trust are the one-shot operations behind `kuguri check` and `kuguri trust`.
//
// It must not import cobra, viper, bubbletea, lipgloss or any package of the
// TUI or the CLI; it depends on profile, tunnel/api and kuguri's internal
// helpers (hostkeys, sshauth, netwatch, netenv, hooks) only.
package tunnel
