// Package netns builds throwaway network topologies out of Linux network
// namespaces for tests: named namespaces joined by veth pairs, in-process
// services listening inside them, nft rules that black-hole a host
// silently, and the seed's topology (Topology) with a real OpenSSH sshd.
//
// Every namespace is named "kg" + random hex + the test process id + a role,
// so parallel test runs never collide, and every address lives inside the
// test's own namespaces (10.231.x.y): nothing is configured in the root
// namespace. All of it is torn down by t.Cleanup, even when the test fails;
// a namespace left behind by a test process that died without cleaning up
// is deleted by the next New.
//
// It needs Linux, root, iproute2 (ip) and nftables (nft). Require skips the
// test when they are missing, and fails it when the environment variable CI
// is "true": in CI a skip hides a gap.
//
// It is imported only by _test.go files. It may import "testing",
// golang.org/x/sys/unix, golang.org/x/crypto/ssh and internal/sshdtest, and
// nothing else from kuguri (no tunnel, profile, cmd or tui): it models the
// network, not the program under test.
package netns
