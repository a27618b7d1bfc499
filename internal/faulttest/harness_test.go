//go:build linux

package faulttest

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/netns"
	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/tunnel/api"
)

// ---- the kuguri binary ----

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// kuguriBin builds cmd/kuguri once per test run (with -race when the tests
// run with -race) and returns the binary's path.
func kuguriBin(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("go toolchain not on PATH: %w", err)
			return
		}
		build.dir, build.err = os.MkdirTemp("", "kuguri-faulttest-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "kuguri")
		args := []string{"build", "-o", build.bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/kuguri/kuguri/cmd/kuguri")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goBin, args...).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if build.err != nil {
		if strings.Contains(build.err.Error(), "not on PATH") && os.Getenv("CI") != "true" {
			t.Skip(build.err)
		}
		t.Fatal(build.err)
	}
	return build.bin
}

// ---- configuration ----

// test timings: short keepalives so dead links are found in seconds.
const (
	keepaliveInterval = time.Second
	keepaliveCountMax = 3
)

type fwd struct {
	Name, Type, Local, Remote string
}

type prof struct {
	Name       string
	Host       string
	Port       int
	User       string
	Key        string // identity file
	KnownHosts string
	Jump       []string
	Forwards   []fwd
	// Settings; zero values take the test defaults below.
	KeepaliveInterval time.Duration
	KeepaliveCountMax int
	ConnectTimeout    time.Duration
}

func q(s string) string { return strconv.Quote(s) }

// configYAML renders profiles as a kuguri config file.
func configYAML(profiles ...prof) string {
	var b strings.Builder
	b.WriteString("defaults:\n")
	fmt.Fprintf(&b, "  keepalive_interval: %s\n", keepaliveInterval)
	fmt.Fprintf(&b, "  keepalive_count_max: %d\n", keepaliveCountMax)
	b.WriteString("  connect_timeout: 3s\n")
	b.WriteString("  reconnect: {initial: 250ms, max: 1s}\n")
	b.WriteString("profiles:\n")
	for _, p := range profiles {
		fmt.Fprintf(&b, "  %s:\n", q(p.Name))
		fmt.Fprintf(&b, "    host: %s\n    port: %d\n    user: %s\n", q(p.Host), p.Port, q(p.User))
		fmt.Fprintf(&b, "    identity_files: [%s]\n    known_hosts: %s\n", q(p.Key), q(p.KnownHosts))
		if len(p.Jump) > 0 {
			var js []string
			for _, j := range p.Jump {
				js = append(js, q(j))
			}
			fmt.Fprintf(&b, "    jump: [%s]\n", strings.Join(js, ", "))
		}
		if p.KeepaliveInterval > 0 {
			fmt.Fprintf(&b, "    keepalive_interval: %s\n", p.KeepaliveInterval)
		}
		if p.KeepaliveCountMax > 0 {
			fmt.Fprintf(&b, "    keepalive_count_max: %d\n", p.KeepaliveCountMax)
		}
		if p.ConnectTimeout > 0 {
			fmt.Fprintf(&b, "    connect_timeout: %s\n", p.ConnectTimeout)
		}
		if len(p.Forwards) > 0 {
			b.WriteString("    forwards:\n")
			for _, f := range p.Forwards {
				fmt.Fprintf(&b, "      - name: %s\n", q(f.Name))
				if f.Type != "" {
					fmt.Fprintf(&b, "        type: %s\n", f.Type)
				}
				fmt.Fprintf(&b, "        local: %s\n", q(f.Local))
				if f.Remote != "" {
					fmt.Fprintf(&b, "        remote: %s\n", q(f.Remote))
				}
			}
		}
	}
	return b.String()
}

// ---- the rig: sshd, services, keys, and where kuguri runs ----

// rig is one test's world: either the seed topology in namespaces (topo
// set; kuguri runs in the client namespace) or plain loopback.
type rig struct {
	t          *testing.T
	dir        string
	signer     ssh.Signer
	keyPath    string
	knownHosts string

	topo  *netns.Topology // nil on loopback
	sshd  *sshdtest.Server
	db    *netns.Service // echo, as the SSH server sees it
	admin *netns.Service // HTTP
	// client is the namespace kuguri and its clients run in; nil means the
	// test's own (loopback).
	client *netns.NS
}

func newKey(t *testing.T) (string, ssh.Signer, string) {
	dir := t.TempDir()
	signer, path := sshdtest.NewKey(t, dir, "id_ed25519", "")
	return dir, signer, path
}

// topologyRig builds the seed topology with the client's key authorized
// and known_hosts holding the VPS's (and bastion's) host keys.
func topologyRig(t *testing.T, opts netns.Options) *rig {
	t.Helper()
	netns.Require(t)
	sshdtest.Require(t)
	dir, signer, keyPath := newKey(t)
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, signer.PublicKey())
	tp := netns.NewTopology(t, opts)
	r := &rig{t: t, dir: dir, signer: signer, keyPath: keyPath, knownHosts: filepath.Join(dir, "known_hosts"),
		topo: tp, sshd: tp.SSHD, db: tp.DB, admin: tp.Admin, client: tp.Client}
	lines := []string{tp.SSHD.KnownHostsLine()}
	if tp.Bastion != nil {
		lines = append(lines, tp.Bastion.KnownHostsLine())
	}
	sshdtest.WriteKnownHosts(t, r.knownHosts, lines...)
	return r
}

// loopbackRig runs sshd and the services on the test's own loopback.
func loopbackRig(t *testing.T) *rig {
	t.Helper()
	sshdtest.Require(t)
	dir, signer, keyPath := newKey(t)
	srv := sshdtest.Start(t, sshdtest.Options{Name: "sshd", AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	r := &rig{t: t, dir: dir, signer: signer, keyPath: keyPath, knownHosts: filepath.Join(dir, "known_hosts"), sshd: srv}
	sshdtest.WriteKnownHosts(t, r.knownHosts, srv.KnownHostsLine())
	r.db = netns.NewService(t, nil, "db", "127.0.0.1:0", netns.Echo)
	r.admin = netns.NewService(t, nil, "admin", "127.0.0.1:0", netns.HTTPPage(netns.AdminBody))
	return r
}

// forEachRig runs fn as subtests on loopback and on the topology.
func forEachRig(t *testing.T, fn func(t *testing.T, r *rig)) {
	t.Run("loopback", func(t *testing.T) { fn(t, loopbackRig(t)) })
	t.Run("netns", func(t *testing.T) { fn(t, topologyRig(t, netns.Options{})) })
}

// vps is the profile dialling the rig's sshd directly.
func (r *rig) vps(name string, forwards ...fwd) prof {
	host, port, _ := net.SplitHostPort(r.sshd.Addr)
	p, _ := strconv.Atoi(port)
	return prof{Name: name, Host: host, Port: p, User: r.sshd.User, Key: r.keyPath, KnownHosts: r.knownHosts, Forwards: forwards}
}

func local(name, remote string) fwd { return fwd{Name: name, Local: "127.0.0.1:0", Remote: remote} }

// dial connects to addr from where kuguri runs.
func (r *rig) dial(addr string) (net.Conn, error) {
	if r.client != nil {
		return r.client.Dial(addr, 10*time.Second)
	}
	return net.DialTimeout("tcp", addr, 10*time.Second)
}

func (r *rig) mustDial(addr string) net.Conn {
	r.t.Helper()
	c, err := r.dial(addr)
	if err != nil {
		r.t.Fatalf("dial %s: %v", addr, err)
	}
	return c
}

// ---- a running kuguri up ----

type kuguri struct {
	t      *testing.T
	bin    string
	config string
	socket string
	cmd    *exec.Cmd
	log    sshdtest.Buffer
	done   chan struct{}
	err    error // Wait's result, valid after done
}

// up writes the config and runs `kuguri up PROFILES...` (inside the rig's
// client namespace when there is one), with HOME in a temp dir and no
// agent, and waits until every named profile is up. It is stopped with
// SIGTERM at cleanup.
func (r *rig) up(cfg string, profiles ...string) *kuguri {
	t := r.t
	t.Helper()
	k := r.start(cfg, profiles...)
	for _, p := range profiles {
		k.waitProfile(p, 60*time.Second, "up with every forward listening", func(p api.Profile) bool {
			if p.State != api.Up {
				return false
			}
			for _, f := range p.Forwards {
				if f.State != api.Listening {
					return false
				}
			}
			return true
		})
	}
	return k
}

// start runs `kuguri up` without waiting for the profiles.
func (r *rig) start(cfg string, profiles ...string) *kuguri {
	t := r.t
	t.Helper()
	bin := kuguriBin(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are limited to ~100 bytes: keep it short.
	sockDir, err := os.MkdirTemp("", "kgs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	k := &kuguri{t: t, bin: bin, config: filepath.Join(dir, "config.yaml"), socket: filepath.Join(sockDir, "k.sock"), done: make(chan struct{})}
	if err := os.WriteFile(k.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"up"}, profiles...)
	args = append(args, "--config", k.config, "--socket", k.socket, "--log-level", "debug")
	if r.client != nil {
		k.cmd = r.client.Command(bin, args...)
	} else {
		k.cmd = exec.Command(bin, args...)
		k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	k.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GORACE=halt_on_error=0",
	}
	k.cmd.Stdout = &k.log
	k.cmd.Stderr = &k.log
	k.cmd.WaitDelay = 5 * time.Second
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("start kuguri: %v", err)
	}
	go func() {
		k.err = k.cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(k.stop)
	return k
}

// stop ends kuguri with SIGTERM (SIGKILL after a while, which fails the
// test) and reports its log when the test failed or the race detector
// spoke.
func (k *kuguri) stop() {
	if !k.exited() {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(20 * time.Second):
			k.t.Errorf("kuguri up did not exit within 20s of SIGTERM; killing it")
			_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
			<-k.done
		}
	}
	out := k.log.String()
	if strings.Contains(out, "WARNING: DATA RACE") {
		k.t.Errorf("the race detector reported a data race in kuguri up")
	}
	if k.t.Failed() {
		k.t.Logf("kuguri up (%v) log:\n%s", k.err, out)
	}
}

func (k *kuguri) exited() bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}

func (k *kuguri) pid() int { return k.cmd.Process.Pid }

// status runs `kuguri status --json` from the test process (the control
// socket is a path, reachable from any namespace).
func (k *kuguri) status() (api.Snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, "status", "--json", "--socket", k.socket)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return api.Snapshot{}, fmt.Errorf("kuguri status --json: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var snap api.Snapshot
	if err := json.Unmarshal(stdout.Bytes(), &snap); err != nil {
		return api.Snapshot{}, fmt.Errorf("kuguri status --json: %w: %q", err, stdout.String())
	}
	return snap, nil
}

// profile returns one profile's state from `kuguri status --json`.
func (k *kuguri) profile(name string) api.Profile {
	k.t.Helper()
	snap, err := k.status()
	if err != nil {
		k.t.Fatal(err)
	}
	p, ok := snap.Find(name)
	if !ok {
		k.t.Fatalf("status has no profile %q: %+v", name, snap)
	}
	return p
}

// waitProfile polls `kuguri status --json` until pred holds for the named
// profile, failing the test after timeout (or when kuguri exits).
func (k *kuguri) waitProfile(name string, timeout time.Duration, what string, pred func(api.Profile) bool) api.Profile {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	var last api.Profile
	var lastErr error
	for {
		if k.exited() {
			k.t.Fatalf("kuguri up exited (%v) while waiting for %s to be %s", k.err, name, what)
		}
		snap, err := k.status()
		lastErr = err
		if err == nil {
			if p, ok := snap.Find(name); ok {
				last = p
				if pred(p) {
					return p
				}
			}
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("profile %s not %s after %v; last state %s (last_error %q, reconnects %d); status error %v; forwards %+v",
				name, what, timeout, last.State, last.LastError, last.Reconnects, lastErr, last.Forwards)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// forward returns the named forward's state.
func forward(t *testing.T, p api.Profile, name string) api.Forward {
	t.Helper()
	for _, f := range p.Forwards {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("profile %s has no forward %q: %+v", p.Name, name, p.Forwards)
	return api.Forward{}
}

// fdCount counts kuguri's open file descriptors.
func (k *kuguri) fdCount() int {
	k.t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(k.pid()) + "/fd")
	if err != nil {
		k.t.Fatalf("kuguri fds: %v", err)
	}
	return len(ents)
}

// rssKB is kuguri's resident set size in KiB.
func (k *kuguri) rssKB() int {
	k.t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(k.pid()) + "/status")
	if err != nil {
		k.t.Fatalf("kuguri status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				k.t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return n
		}
	}
	k.t.Fatalf("no VmRSS in /proc/%d/status", k.pid())
	return 0
}

// ---- traffic ----

// roundTrip sends msg through addr (an echo forward) and checks the echo.
func (r *rig) roundTrip(addr, msg string) {
	r.t.Helper()
	if err := r.tryRoundTrip(addr, msg, 20*time.Second); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) tryRoundTrip(addr, msg string, timeout time.Duration) error {
	c, err := r.dial(addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	errc := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, msg)
		errc <- err
	}()
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("echo through %s: %w", addr, err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("write through %s: %w", addr, err)
	}
	if string(buf) != msg {
		return fmt.Errorf("echo through %s: got %d bytes that differ from the %d sent", addr, len(buf), len(msg))
	}
	return nil
}

// httpGet fetches / through addr with a raw HTTP/1.1 request and returns the
// body.
func httpGet(c net.Conn) (string, error) {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	s := string(out)
	if !strings.HasPrefix(s, "HTTP/1.1 200 OK\r\n") {
		return "", fmt.Errorf("response %q", s)
	}
	_, body, _ := strings.Cut(s, "\r\n\r\n")
	return body, nil
}

// socks5Connect does a SOCKS5 no-auth CONNECT to target (an IPv4 literal
// and port) over c.
func socks5Connect(c net.Conn, target string) error {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	host, portS, err := net.SplitHostPort(target)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host).To4()
	port, _ := strconv.Atoi(portS)
	if ip == nil {
		return fmt.Errorf("socks5Connect: %s is not an IPv4 literal", host)
	}
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return err
	}
	var rep [2]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		return fmt.Errorf("socks greeting: %w", err)
	}
	if rep != [2]byte{5, 0} {
		return fmt.Errorf("socks greeting reply %v", rep)
	}
	req := append([]byte{5, 1, 0, 1}, ip...)
	req = append(req, byte(port>>8), byte(port))
	if _, err := c.Write(req); err != nil {
		return err
	}
	var head [10]byte // IPv4 reply
	if _, err := io.ReadFull(c, head[:4]); err != nil {
		return fmt.Errorf("socks connect reply: %w", err)
	}
	if head[1] != 0 {
		return fmt.Errorf("socks connect refused: reply code %d", head[1])
	}
	n := 6
	switch head[3] {
	case 1:
	case 4:
		n = 18
	default:
		return fmt.Errorf("socks reply address type %d", head[3])
	}
	_, err = io.ReadFull(c, make([]byte, n))
	return err
}

// countLog counts substr in an sshd's log.
func countLog(s *sshdtest.Server, substr string) int { return strings.Count(s.Log(), substr) }
