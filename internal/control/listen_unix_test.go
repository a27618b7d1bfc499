//go:build unix

package control

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs f with the process umask set to m. The umask is process
// wide: callers must not run in parallel.
func withUmask(m int, f func()) {
	old := syscall.Umask(m)
	defer syscall.Umask(old)
	f()
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	return fi.Mode().Perm()
}

func TestListenPermissions(t *testing.T) {
	// umask 0 would leave a naive bind at 0777: Listen must not depend on it.
	for _, umask := range []int{0, 0o022, 0o077} {
		t.Run("missing dir/umask "+strings.TrimLeft(os.FileMode(umask).String(), "-"), func(t *testing.T) {
			dir := filepath.Join(shortDir(t), "a", "kuguri")
			path := filepath.Join(dir, "kuguri.sock")
			withUmask(umask, func() {
				ln, err := Listen(path)
				must(t, err)
				defer ln.Close()
				if p := perm(t, dir); p != 0o700 {
					t.Errorf("directory mode %04o, want 0700", p)
				}
				fi, err := os.Lstat(path)
				must(t, err)
				if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
					t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
				}
			})
		})
	}
	t.Run("existing 0755 dir", func(t *testing.T) {
		dir := shortDir(t)
		must(t, os.Chmod(dir, 0o755))
		path := filepath.Join(dir, "kuguri.sock")
		withUmask(0, func() {
			ln, err := Listen(path)
			must(t, err)
			if p := perm(t, path); p != 0o600 {
				t.Errorf("socket mode %04o, want 0600", p)
			}
			if p := perm(t, dir); p != 0o755 {
				t.Errorf("Listen changed the directory's mode to %04o", p)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the socket (no bind leftovers)", len(entries))
			}
			// It serves, and closing removes the socket.
			ts := serveOn(t, ln, path, newFake(snapWith(0, 0)), nil)
			if _, err := dialT(t, path).Hello(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			ts.stop(t)
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				t.Errorf("socket still there after the server stopped: %v", err)
			}
		})
	})
}

func TestListenRefusesWritableDir(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o707, 0o777, 0o1777} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := shortDir(t)
			must(t, os.Chmod(dir, mode))
			_, err := Listen(filepath.Join(dir, "kuguri.sock"))
			if err == nil || !strings.Contains(err.Error(), "writable by group or others") || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Listen in a %v directory: %v, want a refusal naming it", mode, err)
			}
		})
	}
}

func TestListenRefusesOthersDir(t *testing.T) {
	if os.Getuid() != 0 {
		skipOrFail(t, "needs root to make a directory owned by another user")
	}
	dir := shortDir(t)
	must(t, os.Chown(dir, 65534, 65534))
	_, err := Listen(filepath.Join(dir, "kuguri.sock"))
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("Listen in a directory owned by uid 65534: %v, want a refusal", err)
	}
}

// skipOrFail skips a test that needs what the machine lacks, except in CI.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}
