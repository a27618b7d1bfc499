// Package sshdtest starts real OpenSSH daemons (/usr/sbin/sshd) on loopback
// for tests, plus the small fixtures such tests need: key files in OpenSSH
// format, known_hosts files, a real ssh-agent, loopback echo and HTTP
// services.
//
// It is imported only by _test.go files. It may import "testing" and
// golang.org/x/crypto/ssh, and nothing from kuguri itself (no tunnel,
// profile, tui or internal/sshserver), so that any package can use it.
//
// Every server and process it starts is killed by t.Cleanup. Tests that call
// Require (or RequireRoot) skip when the machine lacks sshd (or root), but
// fail when the environment variable CI is "true": in CI a skip hides a gap.
//
// Process control (killing sshd and its per-connection children) is
// implemented for Linux only; on other systems Require skips.
package sshdtest
