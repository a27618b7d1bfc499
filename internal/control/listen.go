package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// ErrInUse means another process answers on the control socket.
var ErrInUse = errors.New("another kuguri is serving this socket")

// ErrNotRunning means nothing serves the control socket.
var ErrNotRunning = errors.New("no kuguri up is running")

// socketName is the socket's file name in its directory.
const socketName = "kuguri.sock"

// DefaultPath returns where the control socket lives: $KUGURI_SOCKET, else
// $XDG_RUNTIME_DIR/kuguri/kuguri.sock, else $TMPDIR/kuguri-UID/kuguri.sock
// (Termux has no /tmp but sets TMPDIR), else
// $HOME/.local/state/kuguri/kuguri.sock, else a kuguri-UID directory in the
// system's temporary directory. Only getenv is consulted, except for that
// last resort.
func DefaultPath(getenv func(string) string) string {
	if p := getenv("KUGURI_SOCKET"); p != "" {
		return p
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "kuguri", socketName)
	}
	if d := getenv("TMPDIR"); d != "" {
		return filepath.Join(d, userDirName(), socketName)
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "kuguri", socketName)
	}
	return filepath.Join(os.TempDir(), userDirName(), socketName)
}

// userDirName names a per-user directory in a shared temporary directory.
// os.Getuid, not os/user, which fails on Android.
func userDirName() string {
	if uid := os.Getuid(); uid >= 0 {
		return "kuguri-" + strconv.Itoa(uid)
	}
	return "kuguri" // Windows: the temporary directory is already per user
}

// maxSocketPath is the longest socket path the OS accepts (sun_path minus
// its terminating NUL).
func maxSocketPath() int {
	switch runtime.GOOS {
	case "linux", "android", "windows":
		return 107
	}
	return 103 // Darwin and the BSDs
}

// Listen binds the control socket at path. It creates the socket's
// directory (mode 0700) when missing and refuses one that belongs to
// another user or that group or others may write (as OpenSSH's StrictModes
// does). The socket is mode 0600 whatever the umask. A socket file left by a
// process that died (connecting to it is refused) is replaced; when a live
// process answers on it, the error wraps ErrInUse.
func Listen(path string) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("control socket: empty path")
	}
	if n := len(path); n > maxSocketPath() {
		return nil, fmt.Errorf("control socket %s: path of %d bytes is longer than the %d this OS allows; choose a shorter one with --socket or KUGURI_SOCKET", path, n, maxSocketPath())
	}
	dir := filepath.Dir(path)
	private, err := prepareDir(dir)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}
	ln, err := bind(path, private)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return ln, nil
}

// prepareDir makes dir when missing (0700) and checks it. It reports
// whether nobody but its owner may enter it.
func prepareDir(dir string) (private bool, err error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("creating directory: %w", err)
		}
		// MkdirAll's mode passed through the umask: make it exactly 0700.
		if err := os.Chmod(dir, 0o700); err != nil {
			return false, fmt.Errorf("directory %s: %w", dir, err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("directory: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is not a directory", dir)
	}
	return checkDir(dir, fi)
}

// clearStale removes a socket file at path that nobody serves.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if !maybeSocket(fi) {
		return fmt.Errorf("control socket %s: the file exists and is not a socket; remove it or choose another path with --socket", path)
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: %w", path, ErrInUse)
	}
	if !isConnRefused(err) {
		return fmt.Errorf("control socket %s: checking whether it is in use: %w", path, err)
	}
	// Nobody listens: a previous kuguri died without removing it.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control socket %s: removing the stale socket: %w", path, err)
	}
	return nil
}
