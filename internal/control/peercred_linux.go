//go:build linux

package control

import "golang.org/x/sys/unix"

// sockPeerUID is the peer's uid by SO_PEERCRED (Android included).
func sockPeerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, err
	}
	return int(cred.Uid), nil
}
