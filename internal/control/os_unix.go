//go:build unix

package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// checkDir refuses a directory owned by someone other than us (or root) or
// writable by group or others. It reports whether the directory is closed
// to everyone but its owner.
func checkDir(dir string, fi fs.FileInfo) (private bool, err error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, fmt.Errorf("directory %s: cannot read its owner", dir)
	}
	uid := os.Getuid()
	if int(st.Uid) != uid && st.Uid != 0 {
		return false, fmt.Errorf("directory %s belongs to uid %d, not to uid %d: refusing to put the control socket there", dir, st.Uid, uid)
	}
	perm := fi.Mode().Perm()
	if perm&0o022 != 0 {
		return false, fmt.Errorf("directory %s is writable by group or others (mode %04o): refusing to put the control socket there (chmod go-w it or choose another path)", dir, perm)
	}
	return perm&0o077 == 0 && int(st.Uid) == uid, nil
}

// maybeSocket reports whether fi may be a socket left by a kuguri.
func maybeSocket(fi fs.FileInfo) bool { return fi.Mode()&fs.ModeSocket != 0 }

func isConnRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// bind listens on path with the socket file at mode 0600 from its first
// moment. In a directory only we may enter, it binds there and chmods at
// once (nobody can reach the socket meanwhile). Elsewhere it binds in a
// fresh 0700 directory beside path, chmods, and hard-links the socket into
// place, which fails rather than replace a socket that appeared meanwhile.
func bind(path string, private bool) (net.Listener, error) {
	if private {
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			return nil, err
		}
		return ln, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".kuguri-bind-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tmpPath := filepath.Join(tmp, socketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpPath, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmpPath, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Link(tmpPath, path); err != nil {
		ln.Close()
		if errors.Is(err, fs.ErrExist) {
			return nil, ErrInUse
		}
		return nil, err
	}
	return &unlinkListener{UnixListener: ln, path: path}, nil
}

// unlinkListener removes its socket file when closed, as a listener made
// by net.Listen does for the path it bound.
type unlinkListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *unlinkListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}
