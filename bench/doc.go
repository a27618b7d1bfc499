// Command bench is kuguri's benchmark harness: it starts a real OpenSSH sshd
// on loopback and measures kuguri (the built binary, `kuguri up`) and
// OpenSSH's `ssh -L` side by side through that same sshd in one run, and
// reports kuguri / OpenSSH ratios as a table and as JSON. See BENCHMARKS.md
// at the repository root for the measures and the targets.
//
//	go run ./bench [-quick] [-json FILE] [-only NAME,...]
//
// The package also holds Go micro-benchmarks of the engine's copy path
// (BenchmarkForwardThroughput, BenchmarkForwardConnect) and a smoke test
// that runs the harness in its smallest mode, so `go test ./bench` proves it
// works without running the heavy measures.
//
// It is a leaf: nothing imports it. It may import anything in the module;
// it must not be imported by kuguri's own packages.
package main
