package netenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

func orOS(getenv func(string) string) func(string) string {
	if getenv == nil {
		return os.Getenv
	}
	return getenv
}

// Home returns $HOME, else os.UserHomeDir (which knows Windows' USERPROFILE
// and Android's fallbacks). It never uses os/user: on Android the app's uid
// may have no passwd entry.
func Home(getenv func(string) string) (string, error) {
	if h := orOS(getenv)("HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("home directory: $HOME is not set: %w", err)
	}
	if h == "" {
		return "", errors.New("home directory: $HOME is not set")
	}
	return h, nil
}

// UserName returns $USER, else $LOGNAME, else "" (the caller decides: SSH
// usually falls back to a profile's or ssh_config's User).
func UserName(getenv func(string) string) string {
	getenv = orOS(getenv)
	if u := getenv("USER"); u != "" {
		return u
	}
	return getenv("LOGNAME")
}

// XDG variables holding a relative path are ignored, as the XDG Base
// Directory specification requires.

// RuntimeDir returns the directory for sockets: $XDG_RUNTIME_DIR, else
// $TMPDIR (Termux sets it; it has no /tmp), else $HOME/.local/state/kuguri,
// else (no home either) os.TempDir(). It does not create the directory.
func RuntimeDir(getenv func(string) string) string {
	getenv = orOS(getenv)
	if d := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return d
	}
	if d := getenv("TMPDIR"); d != "" {
		return d
	}
	if h, err := Home(getenv); err == nil {
		return filepath.Join(h, ".local", "state", "kuguri")
	}
	return os.TempDir()
}

// StateDir returns the directory for state kept across runs (the TUI's log
// file): $XDG_STATE_HOME/kuguri, else ~/.local/state/kuguri, else (no home
// at all) a "kuguri" directory under os.TempDir(). It does not create it.
func StateDir(getenv func(string) string) string {
	getenv = orOS(getenv)
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "kuguri")
	}
	if h, err := Home(getenv); err == nil {
		return filepath.Join(h, ".local", "state", "kuguri")
	}
	return filepath.Join(os.TempDir(), "kuguri")
}
