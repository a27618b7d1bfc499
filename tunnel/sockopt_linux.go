//go:build linux

package tunnel

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcpControl sets TCP_USER_TIMEOUT so that unacknowledged data fails the
// connection after d instead of the kernel's ~15 minutes.
func tcpControl(d time.Duration) func(network, address string, c syscall.RawConn) error {
	if d <= 0 {
		return nil
	}
	ms := int(d / time.Millisecond)
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
		})
		if err != nil {
			return err
		}
		return serr
	}
}
