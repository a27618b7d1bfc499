// Package netwatch notices the two events after which an SSH link is probably
// dead even though no packet has told us so yet: the machine resumed from
// suspend, and the network path changed (a phone moving from Wi-Fi to mobile
// data, a laptop joining another network). The engine reacts to either by
// reconnecting at once instead of waiting for keepalives to time out.
//
// It works without netlink, which Android denies to apps (net.Interfaces
// fails under Termux), by polling two cheap signals every Interval:
//
//   - the wall clock, read with the monotonic reading stripped
//     (time.Now().Round(0)): the monotonic clock stops while the machine
//     sleeps, the wall clock does not, so a wall-clock gap much larger than the
//     poll period (more than 2*Interval + 1s) means we were asleep;
//   - the source address the kernel would pick to reach the first hop, found
//     by "connecting" a UDP socket to it and reading the local address. No
//     packet is sent. A failure is recorded as "no route"; a move to or from
//     "no route" is a change too. A Target given as a host name is resolved
//     once per tick with a short timeout; when a lookup fails after an
//     earlier one succeeded, the earlier address is probed (a DNS hiccup is
//     not a network change), and with no earlier answer it is "no route".
//
// Watcher.Tick is the pure step (clock and probe are injectable, so tests need
// no sleeps); Watcher.Run drives it with a real ticker until its context ends.
//
// netwatch imports only the standard library. It must not import x/crypto/ssh,
// the tunnel engine, the TUI or any CLI/config library: the engine consumes it,
// not the other way round.
package netwatch
