//go:build unix && (!linux || 386)

package tunnel

import "syscall"

// sockRead is one read(2) of a non-blocking socket (raw on Linux only).
func sockRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }

// sockPeek looks at whether a non-blocking socket has a byte (or its end)
// to read, leaving it there.
func sockPeek(fd uintptr) error {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
	return err
}
