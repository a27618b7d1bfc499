//go:build !linux

package tunnel

import (
	"syscall"
	"time"
)

func tcpControl(time.Duration) func(network, address string, c syscall.RawConn) error { return nil }
