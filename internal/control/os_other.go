//go:build !unix

package control

import (
	"errors"
	"io/fs"
	"net"
	"syscall"
)

// checkDir: Windows guards files with ACLs, not mode bits; a directory in
// the user's profile or temporary directory is already private.
func checkDir(dir string, fi fs.FileInfo) (private bool, err error) { return true, nil }

// maybeSocket: Windows shows an AF_UNIX socket as an empty reparse point, not
// always as ModeSocket; refuse only what is clearly something else.
func maybeSocket(fi fs.FileInfo) bool {
	return !fi.IsDir() && !(fi.Mode().IsRegular() && fi.Size() > 0)
}

// wsaeconnrefused is Winsock's WSAECONNREFUSED.
const wsaeconnrefused = syscall.Errno(10061)

func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, wsaeconnrefused)
}

func bind(path string, private bool) (net.Listener, error) {
	// Mode bits mean little here (os.Chmod only toggles read-only): the
	// directory's ACL, inherited from the user's profile, guards the socket.
	return net.Listen("unix", path)
}
