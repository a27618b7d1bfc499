//go:build !linux

package tunnel

import "net"

// rawSocketConn: only Linux (and Android) read and write sockets with raw
// system calls (rawio_linux.go); elsewhere c is used as it is.
func rawSocketConn(c net.Conn) net.Conn { return c }
