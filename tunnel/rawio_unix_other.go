//go:build unix && (!linux || 386)

package tunnel

import "syscall"

// sockRead is one read(2) of a non-blocking socket (raw on Linux only).
func sockRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
