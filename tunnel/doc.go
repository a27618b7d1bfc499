// Package tunnel is kuguri's engine: it dials a profile's chain of SSH hops
// (TCP or ProxyCommand for the first, each next one through the previous
// client), checks host keys (internal/hostkeys) and authenticates
// (internal/sshauth), serves the profile's forwards (local listeners bridged to
// direct-tcpip channels, a SOCKS5 server for dynamic forwards, tcpip-forward
// for remote ones), and keeps each profile up with one supervisor goroutine:
// keepalive with a deadline, reconnect with capped, jittered backoff,
// listeners kept bound across outages.
//
// The Manager is the in-process implementation of api.Backend: snapshots of
// every profile, a latest-wins Watch stream, start/stop/reconnect. Check and
// Trust are the one-shot operations behind `kuguri check` and `kuguri trust`.
//
// It must not import cobra, viper, bubbletea, lipgloss or any package of the
// TUI or the CLI; it depends on profile, tunnel/api and kuguri's internal SSH
// helpers only.
package tunnel
