// Package sshserver is a small SSH server built on golang.org/x/crypto/ssh:
// public-key (and optional password) login, direct-tcpip forwarding,
// tcpip-forward remote listeners and OpenSSH-style keepalive replies.
//
// It serves two purposes: fast in-process tests of kuguri's client side,
// with fault switches a real sshd cannot offer (Pause stops answering
// without closing anything, DropAll cuts every connection, RefuseChannels
// rejects channel opens, Kill and Revive take the server down and bring it
// back on the same address); and `kuguri demo`, where it stands in for a
// VPS or a bastion, with Config.Dial mapping private targets to loopback
// services.
//
// It is not test-only code: it must not import "testing", and it must not
// import kuguri's tunnel, profile, tui or cmd packages (it is a leaf that
// those may use). Listeners for tcpip-forward are bound to loopback only.
package sshserver
