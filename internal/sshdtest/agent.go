package sshdtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartAgent starts a real OpenSSH ssh-agent in the foreground on a fresh
// socket and returns the socket's path. The agent is killed and the socket
// removed at cleanup. The socket lives in a short directory under os.TempDir
// because unix socket paths are limited to about 100 bytes.
func StartAgent(tb testing.TB) string {
	tb.Helper()
	agentPath, err := exec.LookPath("ssh-agent")
	if err != nil {
		skipOrFail(tb, "ssh-agent not installed: %v (apt-get install openssh-client)", err)
		return ""
	}
	dir, err := os.MkdirTemp("", "sshdtest-agent-")
	if err != nil {
		tb.Fatalf("sshdtest: agent dir: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")

	var log Buffer
	cmd := exec.Command(agentPath, "-D", "-a", sock)
	cmd.Stdout = &log
	cmd.Stderr = &log
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		tb.Fatalf("sshdtest: start ssh-agent: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	tb.Cleanup(func() {
		killTree(cmd.Process.Pid)
		<-done
	})

	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return sock
		}
		select {
		case <-done:
			tb.Fatalf("sshdtest: ssh-agent exited: %s", log.String())
		case <-time.After(10 * time.Millisecond): // poll interval
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sshdtest: ssh-agent socket %s not ready after %v: %v", sock, startTimeout, err)
		}
	}
}

// askpassScript prints the passphrase from the environment, so the secret is
// never written to disk. It answers once: when ssh-add asks again (a wrong
// passphrase) it fails, so ssh-add gives up instead of asking forever.
const askpassScript = `#!/bin/sh
if [ -e "$SSHDTEST_ASKPASS_ONCE" ]; then exit 1; fi
: > "$SSHDTEST_ASKPASS_ONCE"
printf '%s\n' "$SSHDTEST_ASKPASS_SECRET"
`

// AgentAdd adds the private key at privPath to the agent at sock with the
// real ssh-add, answering its passphrase prompt (if any) through
// SSH_ASKPASS. It fails the test when ssh-add fails.
func AgentAdd(tb testing.TB, sock, privPath, passphrase string) {
	tb.Helper()
	addPath, err := exec.LookPath("ssh-add")
	if err != nil {
		skipOrFail(tb, "ssh-add not installed: %v (apt-get install openssh-client)", err)
		return
	}
	dir := tb.TempDir()
	script := filepath.Join(dir, "askpass")
	if err := os.WriteFile(script, []byte(askpassScript), 0o700); err != nil {
		tb.Fatalf("sshdtest: askpass script: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, addPath, privPath)
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SSH_AUTH_SOCK", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "DISPLAY",
			"SSHDTEST_ASKPASS_SECRET", "SSHDTEST_ASKPASS_ONCE":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env,
		"SSH_AUTH_SOCK="+sock,
		"SSH_ASKPASS="+script,
		"SSH_ASKPASS_REQUIRE=force",
		"DISPLAY=sshdtest:0",
		"SSHDTEST_ASKPASS_SECRET="+passphrase,
		"SSHDTEST_ASKPASS_ONCE="+filepath.Join(dir, "asked"),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("sshdtest: ssh-add %s: %v: %s", privPath, err, strings.TrimSpace(string(out)))
	}
}
