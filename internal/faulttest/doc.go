// Package faulttest holds end-to-end fault tests of kuguri: the real
// binary (cmd/kuguri, built once per test run) runs `kuguri up` against a
// real OpenSSH sshd, on loopback and inside the seed's topology made of
// network namespaces (internal/netns), and each test breaks something —
// a silent black hole, sshd killed mid-transfer, a jump host dying, the
// client's address changing, the target service going down, a new host key,
// slow or abandoned clients — then checks the promise DESIGN.md makes about
// it through `kuguri status --json` and real traffic.
//
// The package has no non-test code. Its tests may import the engine's
// public state types (tunnel/api), internal/netns and internal/sshdtest;
// they drive kuguri only through its command line and its forwards, never
// through the engine's Go API. They need Linux and sshd; the namespace
// tests need root, ip and nft. Missing pieces skip the test, or fail it
// when CI=true.
package faulttest
