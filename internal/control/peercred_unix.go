//go:build linux || darwin || freebsd

package control

import "net"

// peerUID returns the uid of the process at the other end of c, read by
// the OS's socket option (sockPeerUID); ok is false for anything but a
// Unix socket.
func peerUID(c net.Conn) (uid int, ok bool, err error) {
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		return 0, false, nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { uid, serr = sockPeerUID(int(fd)) }); err != nil {
		return 0, false, err
	}
	if serr != nil {
		return 0, false, serr
	}
	return uid, true, nil
}
