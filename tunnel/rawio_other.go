//go:build !linux || 386

package tunnel

import "net"

// rawSocketConn: only Linux (and Android) read and write sockets with raw
// system calls (rawio_linux.go; not on 386, whose kernel interface has no
// direct sendto); elsewhere c is used as it is.
func rawSocketConn(c net.Conn) net.Conn { return c }
