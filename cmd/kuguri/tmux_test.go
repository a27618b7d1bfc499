package main

// The TUI in a real terminal: tmux runs the kuguri binary, send-keys types,
// capture-pane reads the screen.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
)

type tmuxSession struct {
	t    *testing.T
	name string
	sock string
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is missing (CI installs it)")
		}
		t.Skip("tmux is missing")
	}
}

// startTmux runs command in a detached tmux session of the given size, on a
// private tmux server socket.
func startTmux(t *testing.T, w, h int, env []string, command string) *tmuxSession {
	t.Helper()
	requireTmux(t)
	dir, err := os.MkdirTemp("", "kgtmux")
	if err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, name: "kg", sock: filepath.Join(dir, "tmux.sock")}
	full := "env " + strings.Join(env, " ") + " " + command + "; sleep 30"
	if out, err := exec.Command("tmux", "-S", s.sock, "new-session", "-d", "-s", s.name,
		"-x", fmt.Sprint(w), "-y", fmt.Sprint(h), full).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("tmux", "-S", s.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	return s
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	args := append([]string{"-S", s.sock, "send-keys", "-t", s.name}, keys...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys %q: %v\n%s", keys, err, out)
	}
}

func (s *tmuxSession) screen() string {
	out, err := exec.Command("tmux", "-S", s.sock, "capture-pane", "-p", "-t", s.name).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// waitScreen polls the screen until cond holds.
func (s *tmuxSession) waitScreen(what string, timeout time.Duration, cond func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := s.screen()
		if cond(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; screen:\n%s", what, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkWidth(t *testing.T, scr string, w int) {
	t.Helper()
	for i, l := range strings.Split(scr, "\n") {
		if n := len([]rune(l)); n > w {
			t.Errorf("line %d is %d wide on a %d-column terminal: %q", i+1, n, w, l)
		}
	}
}

func (e *env) tmuxEnv() []string {
	return []string{"HOME=" + e.home, "XDG_STATE_HOME=" + filepath.Join(e.home, ".state"), "XDG_RUNTIME_DIR=",
		"SSH_AUTH_SOCK=", "TERM=xterm-256color", "USER=" + os.Getenv("USER")}
}

func TestTUIEndToEnd(t *testing.T) {
	sshdtest.Require(t)
	for _, size := range [][2]int{{80, 24}, {50, 20}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			e := newEnv(t)
			srv, kh := e.trustedServer()
			echo := sshdtest.EchoServer(t)
			port := freeLoopbackPort(t)
			e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: db, local: %d, remote: %q}", port, echo)))

			s := startTmux(t, size[0], size[1], e.tmuxEnv(),
				fmt.Sprintf("%s --config %s --socket %s tui", kuguriBin(t), e.config, e.socket))
			s.waitScreen("the profile listed as stopped", 20*time.Second, func(scr string) bool {
				return strings.Contains(scr, "vps") && strings.Contains(scr, "stopped")
			})
			s.keys("Enter")
			scr := s.waitScreen("vps up with its forward's port", 20*time.Second, func(scr string) bool {
				return strings.Contains(scr, "up") && strings.Contains(scr, fmt.Sprint(port)) && strings.Contains(scr, "listening")
			})
			checkWidth(t, scr, size[0])

			// Data through the forward the TUI holds.
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("echo through the TUI's forward: %q %v", buf, err)
			}
			c.Close()
			s.waitScreen("the connection counted", 10*time.Second, func(scr string) bool { return strings.Contains(scr, "0/1") })

			s.keys("q")
			waitFor(t, "the port released after q", 10*time.Second, func() bool {
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
				if err == nil {
					c.Close()
					return false
				}
				return true
			})
		})
	}
}

// TestTUIAttach: with a `kuguri up` serving the socket, the TUI attaches to
// it, and quitting leaves the tunnel up.
func TestTUIAttach(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	srv, kh := e.trustedServer()
	echo := sshdtest.EchoServer(t)
	port := freeLoopbackPort(t)
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: db, local: %d, remote: %q}", port, echo)))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := e.cmd(ctx, "up", "vps")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); up.Wait() }()
	waitFor(t, "vps up", 20*time.Second, func() bool {
		st, r := e.status(t)
		return r.code == 0 && len(st.Profiles) == 1 && st.Profiles[0].State == "up"
	})

	s := startTmux(t, 80, 24, e.tmuxEnv(), fmt.Sprintf("%s --config %s --socket %s tui", kuguriBin(t), e.config, e.socket))
	s.waitScreen("attached TUI showing vps up", 20*time.Second, func(scr string) bool {
		return strings.Contains(scr, "vps") && strings.Contains(scr, "up") && strings.Contains(strings.ToLower(scr), "attached")
	})
	s.keys("q")
	s.waitScreen("the TUI gone", 10*time.Second, func(scr string) bool { return !strings.Contains(scr, "PROFILE") })
	if st, _ := e.status(t); len(st.Profiles) != 1 || st.Profiles[0].State != "up" {
		t.Fatalf("after quitting the attached TUI: %+v; want vps still up", st)
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatalf("forward gone after quitting the attached TUI: %v", err)
	}
	c.Close()
}

// TestDemo: the sandbox reaches up headless and moves data through every
// forward; the TUI variant shows up and quits on q; nothing is written to
// ~/.ssh or the config dir.
func TestDemo(t *testing.T) {
	e := newEnv(t)
	os.RemoveAll(filepath.Join(e.home, ".ssh"))

	t.Run("headless", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := e.cmd(ctx, "demo", "--headless")
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errb sshdtest.Buffer
		c.Stderr = &errb
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); c.Wait() }()
		var listens []string
		buf := make([]byte, 64<<10)
		var text string
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(text, "faults:") {
			if time.Now().After(deadline) {
				t.Fatalf("demo printed no services:\n%s\n%s", text, errb.String())
			}
			n, err := out.Read(buf)
			if err != nil {
				t.Fatalf("demo stdout: %v\n%s", err, errb.String())
			}
			text += string(buf[:n])
		}
		for _, l := range strings.Split(text, "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && strings.HasPrefix(f[2], "127.0.0.1:") {
				listens = append(listens, f[2])
			}
		}
		if len(listens) < 3 {
			t.Fatalf("demo listed %d forwards:\n%s", len(listens), text)
		}
		waitFor(t, "every demo profile up", 20*time.Second, func() bool {
			return strings.Count(errb.String(), "to=up") >= 3
		})
		for _, l := range listens {
			conn, err := net.DialTimeout("tcp", l, 5*time.Second)
			if err != nil {
				t.Fatalf("demo forward %s: %v", l, err)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			// Every demo service answers something to a line of input (the
			// admin page to an HTTP request, the banners at once, the echo
			// with the line; SOCKS with a method reply).
			fmt.Fprintf(conn, "\x05\x01\x00GET / HTTP/1.0\r\n\r\n")
			b := make([]byte, 1)
			if _, err := io.ReadFull(conn, b); err != nil {
				t.Errorf("demo forward %s answered nothing: %v", l, err)
			}
			conn.Close()
		}
	})

	t.Run("tui", func(t *testing.T) {
		s := startTmux(t, 80, 24, e.tmuxEnv(), fmt.Sprintf("%s --config %s demo", kuguriBin(t), e.config))
		scr := s.waitScreen("demo profiles up", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "3/3 up") })
		if !strings.Contains(scr, "curl http://127.0.0.1:") {
			t.Errorf("demo screen lacks the try-it line:\n%s", scr)
		}
		checkWidth(t, scr, 80)
		s.keys("q")
		s.waitScreen("the demo gone", 10*time.Second, func(scr string) bool { return !strings.Contains(scr, "up") })
	})

	for _, d := range []string{".ssh", ".config"} {
		if _, err := os.Stat(filepath.Join(e.home, d)); !os.IsNotExist(err) {
			t.Errorf("demo created ~/%s (err %v)", d, err)
		}
	}
}

// TestConnectAsksPassphraseOnTerminal: in a real terminal, `kuguri connect`
// asks for an encrypted key's passphrase once, without echo, and connects;
// the passphrase appears nowhere on the screen.
func TestConnectAsksPassphraseOnTerminal(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	const secret = "tty-SECRET-passphrase"
	signer, key := sshdtest.NewKey(t, e.dir, "id_locked", secret)
	e.key = key
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	kh := filepath.Join(e.dir, "known_hosts")
	sshdtest.WriteKnownHosts(t, kh, srv.KnownHostsLine())
	echo := sshdtest.EchoServer(t)
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo, local: 0, remote: %q}", echo)))

	s := startTmux(t, 100, 30, e.tmuxEnv(), fmt.Sprintf("%s --config %s --socket %s connect vps -- sh -c 'echo CONNECTED-$KUGURI_ECHO_PORT'",
		kuguriBin(t), e.config, e.socket))
	s.waitScreen("the passphrase prompt", 20*time.Second, func(scr string) bool {
		return strings.Contains(scr, "Enter passphrase for key") && strings.Contains(scr, "id_locked")
	})
	s.keys("-l", secret)
	s.keys("Enter")
	scr := s.waitScreen("connected", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "CONNECTED-") })
	if strings.Contains(scr, secret) {
		t.Fatalf("the passphrase is on the screen:\n%s", scr)
	}
	if strings.Count(scr, "Enter passphrase") != 1 {
		t.Errorf("asked more than once:\n%s", scr)
	}
}
