// Package demo is the self-contained sandbox behind `kuguri demo`: two
// embedded SSH servers (a "VPS" and a "bastion", from internal/sshserver)
// and the services behind them (an HTTP admin page, an RDP stand-in, an
// echoing "database"), all on 127.0.0.1 with free ports, plus a
// profile.Config whose profiles reach them the way the seed's real config
// would: "vps" with forwards to 127.0.0.1:8443, 10.0.0.5:3389 and
// 127.0.0.1:5432, "vps-via-bastion" through a jump host, and a SOCKS
// profile.
//
// A newcomer sees kuguri work with no sshd, no keys, no config and no
// network, then breaks the VPS on purpose (CutNetwork silently black-holes
// it; KillVPS resets its connections and brings it back a few seconds later)
// and watches kuguri notice and recover.
//
// Everything the sandbox writes (throwaway keys, known_hosts, ssh_config,
// config.yaml) lives in one temporary directory that Close removes; it never
// touches ~/.ssh or the user's kuguri config, and it sends no traffic
// beyond loopback.
//
// It may import profile and internal/sshserver; it must not import tunnel,
// tui or cmd (the caller runs the engine on Sandbox.Config).
package demo
