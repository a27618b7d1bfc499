package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	uidDir := userDirName()
	tmpFallback := filepath.Join(os.TempDir(), uidDir, "kuguri.sock")
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit wins", map[string]string{"KUGURI_SOCKET": "/x/k.sock", "XDG_RUNTIME_DIR": "/run/user/1", "HOME": "/h"}, "/x/k.sock"},
		{"runtime dir", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1", "TMPDIR": "/t", "HOME": "/h"}, filepath.Join("/run/user/1", "kuguri", "kuguri.sock")},
		{"termux tmpdir", map[string]string{"TMPDIR": "/data/data/com.termux/files/usr/tmp", "HOME": "/h"}, filepath.Join("/data/data/com.termux/files/usr/tmp", uidDir, "kuguri.sock")},
		{"home", map[string]string{"HOME": "/home/alice"}, filepath.Join("/home/alice", ".local", "state", "kuguri", "kuguri.sock")},
		{"nothing", map[string]string{}, tmpFallback},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DefaultPath(func(k string) string { return tc.env[k] })
			if got != tc.want {
				t.Errorf("DefaultPath = %q, want %q", got, tc.want)
			}
		})
	}
	if want := fmt.Sprintf("kuguri-%d", os.Getuid()); os.Getuid() >= 0 && uidDir != want {
		t.Errorf("per-user directory %q, want %q", uidDir, want)
	}
}

// makeStale leaves a socket file at path that nobody listens on, as a
// killed kuguri does.
func makeStale(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	must(t, err)
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "kuguri.sock")
	makeStale(t, path)
	fb := newFake(snapWith(1, 0))
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ts := serveOn(t, ln, path, fb, nil)
	if _, err := dialT(t, ts.path).Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestListenInUse(t *testing.T) {
	fb := newFake(snapWith(1, 0))
	ts := startServer(t, fb, nil)
	_, err := Listen(ts.path)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("Listen on a served socket: %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), ts.path) {
		t.Errorf("error %q does not name the path", err)
	}
	// The live server is untouched.
	if _, err := dialT(t, ts.path).Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "kuguri.sock")
	must(t, os.WriteFile(path, []byte("precious"), 0o600))
	_, err := Listen(path)
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v, want a not-a-socket error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Error("the file was changed")
	}
}

func TestListenPathTooLong(t *testing.T) {
	path := filepath.Join(shortDir(t), strings.Repeat("d", 120), "kuguri.sock")
	_, err := Listen(path)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Listen on a %d-byte path: %v, want a too-long error", len(path), err)
	}
}
