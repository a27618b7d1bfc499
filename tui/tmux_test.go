package tui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTmuxSmoke drives the real terminal path: tuidemo (a fake in-memory
// backend) in a tmux pane at 80x24 and at a phone's 50x20; Enter starts the
// selected profile, `up` must appear, q must end the process.
func TestTmuxSmoke(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is required under CI=true")
		}
		t.Skip("tmux not installed; skipping the terminal smoke test")
	}
	if testing.Short() {
		t.Skip("-short: skipping the tmux smoke test")
	}
	bin := filepath.Join(t.TempDir(), "tuidemo")
	build := exec.Command("go", "build", "-o", bin, "./internal/tuidemo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build tuidemo: %v\n%s", err, out)
	}
	for _, size := range [][2]int{{80, 24}, {50, 20}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			// A private tmux server: never touch anyone else's sessions.
			sock := fmt.Sprintf("kuguri-tui-%d-%d", os.Getpid(), size[0])
			run := func(args ...string) (string, error) {
				out, err := exec.Command(tmux, append([]string{"-u", "-L", sock}, args...)...).CombinedOutput()
				return string(out), err
			}
			t.Cleanup(func() { _, _ = run("kill-server") })
			if out, err := run("new-session", "-d", "-s", "T", "-x", fmt.Sprint(size[0]), "-y", fmt.Sprint(size[1]),
				"env", "TERM=xterm-256color", "LANG=C.UTF-8", bin); err != nil {
				t.Fatalf("tmux new-session: %v\n%s", err, out)
			}
			capture := func() string {
				out, _ := run("capture-pane", "-p", "-t", "T")
				return out
			}
			waitFor := func(what string, ok func(string) bool) string {
				t.Helper()
				deadline := time.Now().Add(15 * time.Second)
				for {
					screen := capture()
					if ok(screen) {
						return screen
					}
					if time.Now().After(deadline) {
						t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen)
					}
					time.Sleep(50 * time.Millisecond) // polling tmux, not waiting for time to pass
				}
			}
			waitFor("the profile list", func(s string) bool { return strings.Contains(s, "demo") && strings.Contains(s, "stopped") })
			if out, err := run("send-keys", "-t", "T", "Enter"); err != nil {
				t.Fatalf("send-keys: %v\n%s", err, out)
			}
			upRow := regexp.MustCompile(`(?m)^▸ demo\s+● up\b`)
			screen := waitFor("demo to be up", upRow.MatchString)
			for i, l := range strings.Split(strings.TrimRight(screen, "\n"), "\n") {
				if n := len([]rune(l)); n > size[0] {
					t.Errorf("screen line %d has %d cells: %q", i+1, n, l)
				}
			}
			if !strings.Contains(screen, "127.0.0.1:18080 → 127.0.0.1:8080") {
				t.Errorf("forward ports not on screen:\n%s", screen)
			}
			if out, err := run("send-keys", "-t", "T", "q"); err != nil {
				t.Fatalf("send-keys q: %v\n%s", err, out)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := run("has-session", "-t", "T"); err != nil {
					break // the program exited and took the session with it
				}
				if time.Now().After(deadline) {
					t.Fatalf("tuidemo did not exit after q; screen:\n%s", capture())
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
