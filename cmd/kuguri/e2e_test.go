package main

// End-to-end tests: the real kuguri binary against a real OpenSSH sshd on
// loopback, checking the command-line contract (output and exit codes).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// kuguriBin builds the binary once per test run.
func kuguriBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kuguri-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kuguri")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// env is one test's sandbox: a HOME, a config file and a socket, all in a
// temp dir.
type env struct {
	t      *testing.T
	dir    string
	home   string
	config string
	socket string
	key    string
	signer ssh.Signer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, home: filepath.Join(dir, "home"), config: filepath.Join(dir, "config.yaml")}
	// A short socket path: unix socket paths are limited to ~100 bytes.
	sockDir, err := os.MkdirTemp("", "kg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	e.socket = filepath.Join(sockDir, "s")
	if err := os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	e.signer, e.key = sshdtest.NewKey(t, dir, "id_ed25519", "")
	return e
}

func (e *env) writeConfig(yaml string) {
	e.t.Helper()
	if err := os.WriteFile(e.config, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// profileYAML is a profile for srv with one local forward named name to
// target, trusting srv through a known_hosts file in the temp dir.
func (e *env) profileYAML(name string, srv *sshdtest.Server, knownHosts string, forwards ...string) string {
	return e.profileYAMLAt(name, srv.Port, srv.User, knownHosts, forwards...)
}

func (e *env) profileYAMLAt(name string, port int, user, knownHosts string, forwards ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    host: 127.0.0.1\n    port: %d\n    user: %s\n    identity_files: [%s]\n    known_hosts: %s\n    forwards:\n",
		port, user, e.key, knownHosts)
	for _, f := range forwards {
		fmt.Fprintf(&b, "      - %s\n", f)
	}
	return fmt.Sprintf("defaults:\n  connect_timeout: 5s\n  keepalive_interval: 1s\n  keepalive_count_max: 3\n  reconnect: {initial: 200ms, max: 1s}\nprofiles:\n  %s:\n%s", name, b.String())
}

func (e *env) cmd(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"--config", e.config, "--socket", e.socket}, args...)
	c := exec.CommandContext(ctx, kuguriBin(e.t), full...)
	c.Env = append(filteredEnviron(), "HOME="+e.home, "USER="+os.Getenv("USER"), "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"), "XDG_STATE_HOME="+filepath.Join(e.home, ".state"), "XDG_RUNTIME_DIR=")
	c.Dir = e.dir
	return c
}

// filteredEnviron drops what would make a run depend on the developer's
// machine (agent, config overrides).
func filteredEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "SSH_AUTH_SOCK", strings.HasPrefix(k, "KUGURI_"), strings.HasPrefix(k, "XDG_"), k == "HOME":
			continue
		}
		out = append(out, kv)
	}
	return out
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs kuguri to completion (bounded) and returns its exit code and output.
func (e *env) run(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := e.cmd(ctx, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("kuguri %q: %v", args, err)
	}
	if ctx.Err() != nil {
		e.t.Fatalf("kuguri %q did not finish within the deadline; stderr:\n%s", args, errb.String())
	}
	return result{code, out.String(), errb.String()}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// trustedServer starts an sshd that accepts e's key, with a known_hosts file
// that holds its host key.
func (e *env) trustedServer() (*sshdtest.Server, string) {
	srv := sshdtest.Start(e.t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()}})
	kh := filepath.Join(e.dir, "known_hosts")
	sshdtest.WriteKnownHosts(e.t, kh, srv.KnownHostsLine())
	return srv, kh
}

func TestExampleConfigListAndShow(t *testing.T) {
	e := newEnv(t)
	abs, _ := filepath.Abs("../../examples/config.yaml")
	sshcfg, _ := filepath.Abs("../../examples/ssh_config")
	e.config = abs
	r := e.run("list", "--ssh-config", sshcfg, "--json")
	if r.code != 0 {
		t.Fatalf("list: %v", r)
	}
	var list struct {
		Profiles []struct {
			Name  string
			Error string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	if len(list.Profiles) < 4 {
		t.Fatalf("list --json: %d profiles, want the example's", len(list.Profiles))
	}
	for _, p := range list.Profiles {
		if p.Error != "" {
			t.Errorf("profile %s: %s", p.Name, p.Error)
		}
		s := e.run("show", p.Name, "--ssh-config", sshcfg)
		if s.code != 0 {
			t.Errorf("show %s: %v", p.Name, s)
			continue
		}
		var sshLine string
		for _, l := range strings.Split(s.stdout, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "ssh ") {
				sshLine = strings.TrimSpace(l)
			}
		}
		if sshLine == "" {
			t.Errorf("show %s printed no ssh command line:\n%s", p.Name, s.stdout)
		}
	}
	// The seed's VPS: changed port, forwards to its loopback services and the
	// Windows RDP on the private LAN.
	s := e.run("show", "vps", "--ssh-config", sshcfg, "--json")
	if s.code != 0 {
		t.Fatalf("show vps --json: %v", s)
	}
	var v profileJSON
	if err := json.Unmarshal([]byte(s.stdout), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Hops) == 0 || v.Hops[len(v.Hops)-1].Port != 22022 {
		t.Errorf("vps hops = %+v, want the target on port 22022", v.Hops)
	}
	if !strings.Contains(v.SSHCommand, "-p 22022") || !strings.Contains(v.SSHCommand, ":10.0.0.5:3389") {
		t.Errorf("vps ssh command = %q, want -p 22022 and the RDP forward", v.SSHCommand)
	}
}

func TestBadInputExits2(t *testing.T) {
	e := newEnv(t)
	e.writeConfig("profiles:\n  vps:\n    host: vps.example.net\n    port: 70000\n    forwads: []\n")
	r := e.run("show", "vps")
	if r.code != 2 {
		t.Fatalf("bad config: %v; want exit 2", r)
	}
	for _, want := range []string{e.config, "vps", "port", "forwads"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	e.writeConfig("profiles:\n  vps:\n    host: [unclosed\n")
	r = e.run("list")
	if r.code != 2 || !strings.Contains(r.stderr, e.config) || !strings.Contains(r.stderr, ":3") {
		t.Errorf("malformed YAML: %v; want exit 2 naming the file and line", r)
	}
	e.writeConfig("profiles:\n  vps: {host: h}\n")
	if r := e.run("show", "nope"); r.code != 2 || !strings.Contains(r.stderr, "vps") {
		t.Errorf("unknown profile: %v; want exit 2 listing the known ones", r)
	}
	if r := e.run("show"); r.code != 2 {
		t.Errorf("show with no profile: %v; want exit 2", r)
	}
	if r := e.run("list", "--bogus"); r.code != 2 {
		t.Errorf("unknown flag: %v; want exit 2", r)
	}
	missing := filepath.Join(e.dir, "nope.yaml")
	e.config = missing
	if r := e.run("list"); r.code != 2 || !strings.Contains(r.stderr, missing) {
		t.Errorf("missing config: %v; want exit 2 naming it", r)
	}
}

func TestConnectRunsCommandThroughForward(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	srv, kh := e.trustedServer()
	echo := sshdtest.EchoServer(t)
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo-svc, local: 0, remote: %q}", echo)))

	// The child sees {name} substituted and the env; its status is passed on.
	r := e.run("connect", "vps", "--", "sh", "-c", `echo "arg={echo-svc} env=$KUGURI_ECHO_SVC_ADDR port=$KUGURI_ECHO_SVC_PORT"; exit 7`)
	if r.code != 7 {
		t.Fatalf("connect -- exit 7: %v", r)
	}
	var line string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "arg=") {
			line = l
		}
	}
	var arg, envAddr, port string
	if _, err := fmt.Sscanf(line, "arg=%s env=%s port=%s", &arg, &envAddr, &port); err != nil {
		t.Fatalf("child output %q: %v\n%v", line, err, r)
	}
	if arg != envAddr || !strings.HasPrefix(arg, "127.0.0.1:") || !strings.HasSuffix(arg, ":"+port) || port == "0" {
		t.Fatalf("child saw arg=%s env=%s port=%s", arg, envAddr, port)
	}
	if !strings.Contains(r.stdout, "echo-svc") || !strings.Contains(r.stdout, "-> "+echo) {
		t.Errorf("connect did not print the forward line:\n%s", r.stdout)
	}

	// Data really flows through the forward while the child runs.
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("socat missing")
		}
		t.Skip("socat missing")
	}
	r = e.run("connect", "vps", "--", "sh", "-c", `printf 'through the tunnel' | socat -t 5 - TCP:{echo-svc}`)
	if r.code != 0 || !strings.Contains(r.stdout, "through the tunnel") {
		t.Fatalf("data through the forward: %v", r)
	}
}

func TestConnectFailures(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	srv, kh := e.trustedServer()
	echo := sshdtest.EchoServer(t)

	t.Run("unknown host key headless exits 3 with fingerprint and hint", func(t *testing.T) {
		empty := filepath.Join(e.dir, "empty_known_hosts")
		e.writeConfig(e.profileYAML("vps", srv, empty, fmt.Sprintf("{name: echo, local: 0, remote: %q}", echo)))
		r := e.run("connect", "vps", "--", "true")
		if r.code != 3 {
			t.Fatalf("%v; want exit 3", r)
		}
		fp := ssh.FingerprintSHA256(srv.HostKey)
		if !strings.Contains(r.stderr, fp) || !strings.Contains(r.stderr, "kuguri trust vps") {
			t.Errorf("stderr lacks fingerprint %s or the trust hint:\n%s", fp, r.stderr)
		}
		if b, _ := os.ReadFile(empty); len(b) != 0 {
			t.Errorf("headless run wrote known_hosts: %q", b)
		}
	})

	t.Run("changed host key exits 3", func(t *testing.T) {
		other := sshdtest.NewHostKey(t)
		bad := filepath.Join(e.dir, "changed_known_hosts")
		line := fmt.Sprintf("[127.0.0.1]:%d %s", srv.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.PublicKey()))))
		sshdtest.WriteKnownHosts(t, bad, line)
		e.writeConfig(e.profileYAML("vps", srv, bad, fmt.Sprintf("{name: echo, local: 0, remote: %q}", echo)))
		r := e.run("connect", "vps", "--", "true")
		if r.code != 3 || !strings.Contains(strings.ToLower(r.stderr), "changed") {
			t.Fatalf("%v; want exit 3 saying the key changed", r)
		}
		if b, _ := os.ReadFile(bad); string(b) != line+"\n" {
			t.Errorf("known_hosts was rewritten: %q", b)
		}
	})

	t.Run("wrong key exits 4", func(t *testing.T) {
		e2 := *e
		_, e2.key = sshdtest.NewKey(t, t.TempDir(), "other", "")
		e2.t = t
		e2.writeConfig(e2.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo, local: 0, remote: %q}", echo)))
		r := e2.run("connect", "vps", "--", "true")
		if r.code != 4 || !strings.Contains(r.stderr, "publickey") {
			t.Fatalf("%v; want exit 4 naming the methods tried", r)
		}
	})

	t.Run("local port busy exits 6", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo, local: %d, remote: %q}", port, echo)))
		r := e.run("connect", "vps", "--", "true")
		if r.code != 6 || !strings.Contains(r.stderr, fmt.Sprint(port)) || !strings.Contains(r.stderr, "vps") {
			t.Fatalf("%v; want exit 6 naming port %d and the profile", r, port)
		}
	})

	t.Run("unreachable server exits 5", func(t *testing.T) {
		e.writeConfig(e.profileYAMLAt("vps", freeLoopbackPort(t), srv.User, kh, fmt.Sprintf("{name: echo, local: 0, remote: %q}", echo)))
		r := e.run("connect", "vps", "--", "true")
		if r.code != 5 {
			t.Fatalf("%v; want exit 5", r)
		}
	})
}

func TestCheck(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	srv, kh := e.trustedServer()
	echo := sshdtest.EchoServer(t)
	dead := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	e.writeConfig(e.profileYAML("vps", srv, kh,
		fmt.Sprintf("{name: alive, local: 0, remote: %q}", echo),
		fmt.Sprintf("{name: dead, local: 0, remote: %q}", dead)))

	if r := e.run("check", "vps", "--offline"); r.code != 0 {
		t.Fatalf("check --offline: %v", r)
	}
	r := e.run("check", "vps")
	if r.code != 6 {
		t.Fatalf("check with a dead target: %v; want exit 6", r)
	}
	for _, want := range []string{"hop 1", "ok", "alive", "reachable", "dead", "refused"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stdout)
		}
	}
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: alive, local: 0, remote: %q}", echo)))
	if r := e.run("check", "vps"); r.code != 0 {
		t.Fatalf("check with a live target: %v", r)
	}
}

func TestTrustYes(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	srv, _ := e.trustedServer()
	echo := sshdtest.EchoServer(t)
	kh := filepath.Join(e.dir, "new_known_hosts")
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo, local: 0, remote: %q}", echo)))
	r := e.run("trust", "vps", "--yes")
	if r.code != 0 {
		t.Fatalf("trust --yes: %v", r)
	}
	if !strings.Contains(r.stdout+r.stderr, ssh.FingerprintSHA256(srv.HostKey)) {
		t.Errorf("trust did not show the fingerprint:\n%v", r)
	}
	b, err := os.ReadFile(kh)
	if err != nil || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("known_hosts after trust: %q, %v; want one line", b, err)
	}
	if r := e.run("connect", "vps", "--", "true"); r.code != 0 {
		t.Fatalf("connect after trust: %v", r)
	}
	if !strings.Contains(r.stdout, "added") {
		t.Errorf("first trust does not say the key was added:\n%s", r.stdout)
	}
	// A second trust adds nothing and says the key is known.
	if r := e.run("trust", "vps", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "known") || !strings.Contains(r.stdout, ssh.FingerprintSHA256(srv.HostKey)) {
		t.Fatalf("second trust: %v; want the fingerprint, known", r)
	}
	if b2, _ := os.ReadFile(kh); !bytes.Equal(b, b2) {
		t.Errorf("second trust changed known_hosts:\n%s\n->\n%s", b, b2)
	}
}

type statusJSON struct {
	Profiles []struct {
		Name       string   `json:"name"`
		State      string   `json:"state"`
		Since      string   `json:"since"`
		LastError  *string  `json:"last_error"`
		Reconnects *int     `json:"reconnects"`
		RTT        *float64 `json:"rtt_ms"`
		Forwards   []struct {
			Name      string  `json:"name"`
			Type      string  `json:"type"`
			Listen    string  `json:"listen"`
			Target    string  `json:"target"`
			State     string  `json:"state"`
			Active    *int    `json:"active"`
			Total     *int    `json:"total"`
			BytesIn   *int    `json:"bytes_in"`
			BytesOut  *int    `json:"bytes_out"`
			LastError *string `json:"last_error"`
		} `json:"forwards"`
	} `json:"profiles"`
}

func (e *env) status(t *testing.T) (statusJSON, result) {
	t.Helper()
	r := e.run("status", "--json")
	var s statusJSON
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, r.stdout)
		}
	}
	return s, r
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestUpStatusDown(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	srv, kh := e.trustedServer()
	echo := sshdtest.EchoServer(t)
	port := freeLoopbackPort(t)
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo, local: %d, remote: %q}", port, echo)))

	if r := e.run("status"); r.code != 5 || !strings.Contains(r.stderr, e.socket) {
		t.Fatalf("status with nothing running: %v; want exit 5 naming the socket", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := e.cmd(ctx, "up", "vps")
	var upErr sshdtest.Buffer
	up.Stderr = &upErr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()

	waitFor(t, "vps up in status --json", 20*time.Second, func() bool {
		s, r := e.status(t)
		return r.code == 0 && len(s.Profiles) == 1 && s.Profiles[0].State == "up" &&
			len(s.Profiles[0].Forwards) == 1 && s.Profiles[0].Forwards[0].State == "listening"
	})

	// Data through the forward, then the counters show it.
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := []byte("hello through kuguri up")
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo through the forward: %q, %v", got, err)
	}
	conn.Close()

	var s statusJSON
	waitFor(t, "counters in status", 10*time.Second, func() bool {
		s, _ = e.status(t)
		f := s.Profiles[0].Forwards[0]
		return f.Total != nil && *f.Total == 1 && f.BytesOut != nil && *f.BytesOut == len(msg) && *f.BytesIn == len(msg)
	})
	// The contract's shape: every documented field is present.
	p := s.Profiles[0]
	if p.Name != "vps" || p.Since == "" || p.LastError == nil || p.Reconnects == nil || p.RTT == nil {
		t.Errorf("profile status lacks documented fields: %+v", p)
	}
	if _, err := time.Parse(time.RFC3339, p.Since); err != nil {
		t.Errorf("since %q is not RFC 3339: %v", p.Since, err)
	}
	f := p.Forwards[0]
	if f.Name != "echo" || f.Type != "local" || f.Listen != fmt.Sprintf("127.0.0.1:%d", port) || f.Target != echo ||
		f.Active == nil || f.LastError == nil {
		t.Errorf("forward status: %+v", f)
	}

	// status --watch streams: the full state first, then changes.
	wctx, wcancel := context.WithTimeout(context.Background(), 3*time.Second)
	watch := e.cmd(wctx, "status", "--watch", "--json")
	var wout sshdtest.Buffer
	watch.Stdout = &wout
	watch.Run() // ends when the timeout kills it
	wcancel()
	dec := json.NewDecoder(strings.NewReader(wout.String()))
	var first statusJSON
	if err := dec.Decode(&first); err != nil || len(first.Profiles) != 1 || first.Profiles[0].State != "up" {
		t.Errorf("status --watch --json first document: %+v, %v\n%s", first, err, wout.String())
	}

	// A second up on the same socket hands over (the profile is known) and exits 0.
	if r := e.run("up", "vps"); r.code != 0 || !strings.Contains(r.stderr, "handed") {
		t.Errorf("second up: %v; want a hand-over and exit 0", r)
	}

	// down closes the listener.
	if r := e.run("down", "vps"); r.code != 0 {
		t.Fatalf("down: %v", r)
	}
	waitFor(t, "listener closed after down", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	if s, _ := e.status(t); s.Profiles[0].State != "stopped" {
		t.Errorf("state after down = %s, want stopped", s.Profiles[0].State)
	}

	// SIGTERM: a prompt, clean exit 0, socket removed.
	up.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("up after SIGTERM: %v\n%s", err, upErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("up did not exit within 10s of SIGTERM\n%s", upErr.String())
	}
	if _, err := os.Stat(e.socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind after exit: %v", err)
	}
}

func TestUpSIGINTAndReload(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	srv, kh := e.trustedServer()
	echo := sshdtest.EchoServer(t)
	p1, p2 := freeLoopbackPort(t), freeLoopbackPort(t)
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo, local: %d, remote: %q}", p1, echo)))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := e.cmd(ctx, "up", "vps")
	var upErr sshdtest.Buffer
	up.Stderr = &upErr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	listenOn := func(port int) func() bool {
		return func() bool {
			s, r := e.status(t)
			return r.code == 0 && len(s.Profiles) == 1 && s.Profiles[0].State == "up" &&
				len(s.Profiles[0].Forwards) == 1 && s.Profiles[0].Forwards[0].Listen == fmt.Sprintf("127.0.0.1:%d", port)
		}
	}
	waitFor(t, "vps up on the first port", 20*time.Second, listenOn(p1))

	// SIGHUP after editing the config: the profile restarts on the new port.
	e.writeConfig(e.profileYAML("vps", srv, kh, fmt.Sprintf("{name: echo, local: %d, remote: %q}", p2, echo)))
	up.Process.Signal(syscall.SIGHUP)
	waitFor(t, "vps up on the second port after SIGHUP", 20*time.Second, listenOn(p2))

	// A bad config on SIGHUP is refused; the running profile stays.
	e.writeConfig("profiles: [")
	up.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload failure logged", 10*time.Second, func() bool { return strings.Contains(upErr.String(), "reload failed") })
	if !listenOn(p2)() {
		t.Errorf("a bad reload disturbed the running profile")
	}

	up.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Fatalf("up after SIGINT: %v; want exit 130\n%s", err, upErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("up did not exit within 10s of SIGINT")
	}
}

// TestGlobalOptionsFromEnvironment: KUGURI_* variables set the global
// options; a flag wins over its variable.
func TestGlobalOptionsFromEnvironment(t *testing.T) {
	e := newEnv(t)
	e.writeConfig("profiles:\n  from-env: {host: h.example}\n")
	other := filepath.Join(e.dir, "other.yaml")
	os.WriteFile(other, []byte("profiles:\n  from-flag: {host: h.example}\n"), 0o600)

	run := func(env []string, args ...string) result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, kuguriBin(t), args...)
		c.Env = append(append(filteredEnviron(), "HOME="+e.home), env...)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{code, out.String(), errb.String()}
	}
	if r := run([]string{"KUGURI_CONFIG=" + e.config}, "list"); r.code != 0 || !strings.Contains(r.stdout, "from-env") {
		t.Errorf("KUGURI_CONFIG: %v", r)
	}
	if r := run([]string{"KUGURI_CONFIG=" + e.config}, "--config", other, "list"); r.code != 0 || !strings.Contains(r.stdout, "from-flag") {
		t.Errorf("--config over KUGURI_CONFIG: %v", r)
	}
	if r := run([]string{"KUGURI_CONFIG=" + e.config, "KUGURI_LOG_LEVEL=loud"}, "check", "from-env"); r.code != 2 || !strings.Contains(r.stderr, "loud") {
		t.Errorf("KUGURI_LOG_LEVEL=loud: %v; want exit 2 naming the bad level", r)
	}
	if r := run([]string{"KUGURI_SOCKET=" + filepath.Join(e.dir, "nope.sock")}, "status"); r.code != 5 || !strings.Contains(r.stderr, "nope.sock") {
		t.Errorf("KUGURI_SOCKET: %v", r)
	}
}

// TestSOCKSWithCurl: `curl --socks5-hostname` through a dynamic forward
// fetches a page served only on the server's loopback, the name resolved on
// the server's side.
func TestSOCKSWithCurl(t *testing.T) {
	sshdtest.Require(t)
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is missing")
		}
		t.Skip("curl is missing")
	}
	e := newEnv(t)
	srv, kh := e.trustedServer()
	page := sshdtest.HTTPServer(t, "served on the VPS's loopback only")
	_, port, _ := net.SplitHostPort(page)
	e.writeConfig(e.profileYAML("vps", srv, kh, "{name: socks, type: dynamic, local: 0}"))
	r := e.run("connect", "vps", "--", "curl", "-sS", "--max-time", "20", "--socks5-hostname", "{socks}",
		"http://localhost:"+port+"/")
	if r.code != 0 || !strings.Contains(r.stdout, "served on the VPS's loopback only") {
		t.Fatalf("curl through the SOCKS forward: %v", r)
	}
}

// TestNoTerminalPrintsHelp: `kuguri` with no arguments starts the TUI only
// on a terminal; piped, it prints help and exits 0.
func TestNoTerminalPrintsHelp(t *testing.T) {
	e := newEnv(t)
	e.writeConfig("profiles:\n  vps: {host: h.example}\n")
	r := e.run()
	if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "connect") {
		t.Fatalf("kuguri piped: %v; want help", r)
	}
}

// TestCompletion: the scripts generate for every shell, and profile names
// complete from the config (cobra's __complete is what the scripts call).
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.writeConfig("profiles:\n  vps: {host: h.example}\n  Prod.DB: {host: db.example}\n  win: {host: w.example}\n")
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if r := e.run("completion", sh); r.code != 0 || !strings.Contains(r.stdout, "kuguri") {
			t.Errorf("completion %s: %v", sh, r)
		}
	}
	if r := e.run("completion", "tcsh"); r.code != 2 {
		t.Errorf("completion tcsh: %v; want exit 2", r)
	}
	r := e.run("__complete", "show", "")
	for _, name := range []string{"vps", "Prod.DB", "win"} {
		if !strings.Contains(r.stdout, name+"\n") {
			t.Errorf("show completion lacks %q:\n%s", name, r.stdout)
		}
	}
	// down takes several: names already given are not offered again.
	r = e.run("__complete", "down", "vps", "")
	if strings.Contains(r.stdout, "vps\n") || !strings.Contains(r.stdout, "win\n") {
		t.Errorf("down completion after vps:\n%s", r.stdout)
	}
}

// TestSSHConfigAliasWithProxyJump: the profile names only an ssh_config
// alias; HostName, Port, User, IdentityFile and ProxyJump (itself an alias)
// come from ssh_config, and the data goes through the bastion.
func TestSSHConfigAliasWithProxyJump(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	bastion, target := sshdtest.Chain(t, e.signer.PublicKey())
	echo := sshdtest.EchoServer(t)
	kh := filepath.Join(e.dir, "known_hosts")
	sshdtest.WriteKnownHosts(t, kh, bastion.KnownHostsLine(), target.KnownHostsLine())
	sshCfg := filepath.Join(e.dir, "ssh_config")
	os.WriteFile(sshCfg, []byte(fmt.Sprintf(`Host vps
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s
    UserKnownHostsFile %s
    ProxyJump jump
Host jump
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s
    UserKnownHostsFile %s
`, target.Port, target.User, e.key, kh, bastion.Port, bastion.User, e.key, kh)), 0o600)
	e.writeConfig(fmt.Sprintf("ssh_config: %s\nprofiles:\n  db:\n    host: vps\n    forwards: [{name: echo, local: 0, remote: %q}]\n", sshCfg, echo))

	s := e.run("show", "db", "--json")
	var v profileJSON
	if s.code != 0 || json.Unmarshal([]byte(s.stdout), &v) != nil || len(v.Hops) != 2 || v.Hops[0].Name != "jump" || v.Hops[1].Port != target.Port {
		t.Fatalf("show db: %v", s)
	}
	r := e.run("connect", "db", "--", "sh", "-c", `printf 'via the bastion' | socat -t 5 - TCP:{echo}`)
	if r.code != 0 || !strings.Contains(r.stdout, "via the bastion") {
		t.Fatalf("connect through ProxyJump: %v", r)
	}
	bastion.WaitLog(t, sshdtest.DirectTCPIPLogLine(target.Addr), 10*time.Second)
}

// TestProxyCommand: ProxyCommand from ssh_config carries the first hop
// (run through sh found on PATH), with %h and %p expanded.
func TestProxyCommand(t *testing.T) {
	sshdtest.Require(t)
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("socat missing")
		}
		t.Skip("socat missing")
	}
	e := newEnv(t)
	srv, kh := e.trustedServer()
	echo := sshdtest.EchoServer(t)
	marker := filepath.Join(e.dir, "proxy-ran")
	sshCfg := filepath.Join(e.dir, "ssh_config")
	os.WriteFile(sshCfg, []byte(fmt.Sprintf(`Host vps
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s
    UserKnownHostsFile %s
    ProxyCommand sh -c 'echo %%h:%%p > %s; exec socat - TCP:%%h:%%p'
`, srv.Port, srv.User, e.key, kh, marker)), 0o600)
	e.writeConfig(fmt.Sprintf("ssh_config: %s\nprofiles:\n  vps:\n    host: vps\n    forwards: [{name: echo, local: 0, remote: %q}]\n", sshCfg, echo))
	r := e.run("connect", "vps", "--", "sh", "-c", `printf 'over a proxy command' | socat -t 5 - TCP:{echo}`)
	if r.code != 0 || !strings.Contains(r.stdout, "over a proxy command") {
		t.Fatalf("connect through ProxyCommand: %v", r)
	}
	b, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(b)) != fmt.Sprintf("127.0.0.1:%d", srv.Port) {
		t.Fatalf("ProxyCommand saw %q (%v), want %%h:%%p expanded", b, err)
	}
}

// TestAuthFailuresNotHammered: with a key the server refuses, `kuguri up`
// connects at most 3 times in 12 seconds (then backs off to minutes and says
// so), so a server running fail2ban never sees a brute-forcer.
func TestAuthFailuresNotHammered(t *testing.T) {
	sshdtest.Require(t)
	e := newEnv(t)
	other, _ := sshdtest.NewKey(t, t.TempDir(), "other", "")
	srv := sshdtest.Start(t, sshdtest.Options{AuthorizedKeys: []ssh.PublicKey{other.PublicKey()}})
	kh := filepath.Join(e.dir, "known_hosts")
	sshdtest.WriteKnownHosts(t, kh, srv.KnownHostsLine())
	e.writeConfig(e.profileYAML("vps", srv, kh, "{name: echo, local: 0, remote: \"127.0.0.1:9\"}"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := e.cmd(ctx, "up", "vps")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); up.Wait() }()
	start := time.Now()
	var note string
	waitFor(t, "the profile to say it is waiting after failed logins", 20*time.Second, func() bool {
		s, r := e.status(t)
		if r.code != 0 || len(s.Profiles) == 0 {
			return false
		}
		st := e.run("status", "vps")
		note = st.stdout
		return strings.Contains(st.stdout, "authentication failed 3 times") && strings.Contains(st.stdout, "next try in 5m")
	})
	// Watch sshd for the rest of a 13-second window.
	for time.Since(start) < 13*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	n := strings.Count(srv.Log(), "Connection from ")
	if n == 0 || n > 3 {
		t.Fatalf("sshd saw %d connections in 13 s, want 1..3\nstatus:\n%s\nsshd log:\n%s", n, note, srv.Log())
	}
	t.Logf("%d connections in 13 s; status:\n%s", n, note)
}
