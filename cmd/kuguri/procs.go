package main

import (
	"os"
	"runtime"
)

// singleProc makes the process run Go code on one thread at a time
// (GOMAXPROCS 1), as ssh does, unless the environment sets GOMAXPROCS.
//
// Every byte a forward moves crosses three goroutines: x/crypto/ssh's
// transport reader (read, decrypt), its mux (route to the channel) and the
// bridge's copy goroutine (write to the client), or the reverse way. With
// more than one P each hand-off wakes a parked thread (a futex call and a
// context switch), and the hand-offs, not the crypto, dominated: on the
// 2-core machine of BENCHMARKS.md, server→client through a real sshd cost
// 2.1 ms of CPU per MiB with GOMAXPROCS 2 and 1.3–1.5 ms with 1 (ssh -L:
// 0.7–0.9 ms), 35 against 20 context switches per MiB, and new-connection
// latency dropped from 1.14–1.23× ssh's to 1.05–1.08×. One core is ample
// for a tunnel keeper: a forward is bounded by the SSH connection, and ssh
// itself is single-threaded.
//
// It is decided here, for this program, rather than in the engine: a
// library must not change process-wide runtime settings behind its host's
// back.
func singleProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
