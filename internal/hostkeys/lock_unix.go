//go:build unix

package hostkeys

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f (flock: per open file, so
// it also orders goroutines of one process) and returns its release. A
// file system without flock leaves f unlocked.
func lockFile(f *os.File) (unlock func()) {
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX)
		if err == nil {
			return func() { syscall.Flock(fd, syscall.LOCK_UN) }
		}
		if err != syscall.EINTR {
			return func() {}
		}
	}
}
