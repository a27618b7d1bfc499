//go:build linux

package control

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPeerOtherUIDRefused connects for real from a child process running as
// nobody (uid 65534) to a socket whose file mode would let it in: the peer
// credential check alone must refuse it.
func TestPeerOtherUIDRefused(t *testing.T) {
	if os.Getuid() != 0 {
		skipOrFail(t, "needs root to run a client as another user")
	}
	const nobody = 65534
	// A directory nobody may enter, holding a copy of this test binary.
	dir, err := os.MkdirTemp("", "kpeer")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	self, err := os.Executable()
	must(t, err)
	bin := filepath.Join(dir, "control.test")
	copyFile(t, self, bin, 0o755)

	path := filepath.Join(dir, "kuguri.sock")
	ln, err := Listen(path)
	must(t, err)
	must(t, os.Chmod(path, 0o666)) // let the file permissions through on purpose
	fb := newFake(snapWith(0, 0))
	serveOn(t, ln, path, fb, nil)

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{peerHelperEnv + "=" + path, "HOME=" + dir, "PATH=/usr/bin:/bin"}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as uid %d: %v\n%s", nobody, err, out)
	}
	got := string(out)
	if !strings.Contains(got, "REFUSED uid=65534") || !strings.Contains(got, "permission denied: the connection comes from uid 65534") {
		t.Fatalf("helper as uid %d says %q, want refused with permission denied", nobody, got)
	}
	if calls := fb.Calls(); len(calls) != 0 {
		t.Errorf("the backend was called: %s", fmtCalls(calls))
	}
	// Root itself is still served.
	if _, err := dialT(t, path).Hello(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	must(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	must(t, err)
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	must(t, out.Close())
}
