package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

// testLogger writes to t.Log when -v, else discards.
func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tLogWriter struct{ t *testing.T }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor polls cond every 50ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		if state != "" {
			last = state
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last seen: %s)", what, d, last)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func service(t *testing.T, sb *Sandbox, prof, fwd string) Service {
	t.Helper()
	for _, s := range sb.Services {
		if s.Profile == prof && s.Forward == fwd {
			return s
		}
	}
	t.Fatalf("no service %s/%s in %+v", prof, fwd, sb.Services)
	return Service{}
}

// httpGet fetches the admin page through addr, or through a SOCKS5 proxy
// at socks when it is not empty.
func httpGet(ctx context.Context, rawURL, socks string) (string, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	if socks != "" {
		u, _ := url.Parse("socks5://" + socks)
		tr.Proxy = http.ProxyURL(u)
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(b), nil
}

// checkAdmin GETs the admin page at a local forward and checks its text.
func checkAdmin(ctx context.Context, listen string) error {
	body, err := httpGet(ctx, "http://"+listen+"/", "")
	if err != nil {
		return err
	}
	if !strings.Contains(body, "came through") || !strings.Contains(body, "127.0.0.1:8443") {
		return fmt.Errorf("unexpected admin page: %q", body)
	}
	return nil
}

// checkRDP reads the RDP stand-in's banner through a local forward.
func checkRDP(ctx context.Context, listen string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", listen)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the RDP banner: %w", err)
	}
	if strings.TrimSpace(line) != rdpBanner {
		return fmt.Errorf("RDP banner %q, want %q", line, rdpBanner)
	}
	return nil
}

// checkEcho sends a line through the db forward and reads it back.
func checkEcho(ctx context.Context, listen string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", listen)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	msg := fmt.Sprintf("SELECT %d;\n", time.Now().UnixNano())
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	if got != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// checkSOCKS fetches the admin page by its VPS-side address through the
// SOCKS forward.
func checkSOCKS(ctx context.Context, listen string) error {
	body, err := httpGet(ctx, "http://"+adminTarget+"/", listen)
	if err != nil {
		return err
	}
	if !strings.Contains(body, "came through") {
		return fmt.Errorf("unexpected admin page via SOCKS: %q", body)
	}
	return nil
}

// checkAll exercises every service of the sandbox.
func checkAll(t *testing.T, sb *Sandbox) {
	t.Helper()
	for _, s := range sb.Services {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		var err error
		switch s.Forward {
		case "admin":
			err = checkAdmin(ctx, s.Listen)
		case "rdp":
			err = checkRDP(ctx, s.Listen)
		case "db":
			err = checkEcho(ctx, s.Listen)
		case "socks":
			err = checkSOCKS(ctx, s.Listen)
		default:
			err = fmt.Errorf("no check for forward %q", s.Forward)
		}
		cancel()
		if err != nil {
			t.Errorf("%s/%s via %s: %v", s.Profile, s.Forward, s.Listen, err)
		}
	}
}

func state(m *tunnel.Manager, name string) (api.Profile, bool) {
	snap, err := m.Snapshot(context.Background())
	if err != nil {
		return api.Profile{}, false
	}
	return snap.Find(name)
}

func waitState(t *testing.T, m *tunnel.Manager, name string, want api.State, within time.Duration) {
	t.Helper()
	waitFor(t, within, fmt.Sprintf("profile %s %s", name, want), func() (bool, string) {
		p, ok := state(m, name)
		if !ok {
			return false, "not in snapshot"
		}
		return p.State == want, fmt.Sprintf("%s (%s)", p.State, p.LastError)
	})
}

// listDir returns the names under dir, recursively.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSandboxWithEngine is the whole demo: every profile comes up under the
// real engine with an empty HOME, data flows through every forward, a cut
// network is noticed within the keepalive window and recovered from, a
// killed VPS is reconnected to, nothing is written outside the sandbox, and
// Close leaves no files and no goroutines.
func TestSandboxWithEngine(t *testing.T) {
	defer goleak.VerifyNone(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("KUGURI_CONFIG", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := testLogger(t)
	sb, err := Start(ctx, Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	dir := sb.Dir
	closed := false
	defer func() {
		if !closed {
			sb.Close()
		}
	}()

	names := sb.Config.Names()
	if want := []string{"socks", "vps", "vps-via-bastion"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("profiles %v, want %v", names, want)
	}
	for _, n := range names {
		r, err := sb.Config.Resolve(n)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", n, err)
		}
		if n == "vps-via-bastion" && (len(r.Hops) != 2 || r.Hops[0].Addr() == r.Hops[1].Addr()) {
			t.Fatalf("vps-via-bastion hops = %v, want bastion then VPS", r.Hops)
		}
		if got := r.Target().Addr(); got != sb.VPSAddr() {
			t.Errorf("%s targets %s, want the demo VPS %s", n, got, sb.VPSAddr())
		}
	}

	m := tunnel.NewManager(sb.Config, tunnel.Options{Logger: logger, Prompter: api.Headless{}})
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(runCtx) }()
	stopEngine := func() {
		stopRun()
		select {
		case <-runDone:
		case <-time.After(20 * time.Second):
			t.Fatal("Manager.Run did not return after cancel")
		}
	}
	engineStopped := false
	defer func() {
		if !engineStopped {
			stopEngine()
		}
	}()

	if err := m.Start(ctx, names...); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		p, err := m.WaitReady(rctx, n)
		rcancel()
		if err != nil {
			t.Fatalf("WaitReady(%s): %v", n, err)
		}
		if p.State != api.Up {
			t.Fatalf("%s is %s after WaitReady, want up", n, p.State)
		}
		for _, f := range p.Forwards {
			s := service(t, sb, n, f.Name)
			if f.Listen != s.Listen {
				t.Errorf("%s/%s listens on %s, the sandbox announced %s", n, f.Name, f.Listen, s.Listen)
			}
		}
	}
	checkAll(t, sb)
	if t.Failed() {
		t.FailNow()
	}
	// The VPS reaches only the demo's targets, like PermitOpen.
	socks := service(t, sb, "socks", "socks").Listen
	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	if body, err := httpGet(octx, "http://10.0.0.6:80/", socks); err == nil {
		t.Errorf("SOCKS to a target the demo does not serve succeeded: %q", body)
	}
	ocancel()

	// A silent black hole: noticed within interval*count (+1s, + a margin
	// for a loaded machine), then recovered from.
	window := sb.Config.Defaults.KeepaliveInterval*time.Duration(sb.Config.Defaults.KeepaliveCountMax) + time.Second
	sb.CutNetwork(true)
	if !sb.NetworkCut() {
		t.Fatal("NetworkCut() = false after CutNetwork(true)")
	}
	cutAt := time.Now()
	waitState(t, m, "vps", api.Reconnecting, window+3*time.Second)
	t.Logf("cut noticed after %s (window %s)", time.Since(cutAt).Round(time.Millisecond), window)
	if took := time.Since(cutAt); took > window {
		t.Errorf("dead link noticed after %s, want within %s", took, window)
	}
	waitState(t, m, "vps-via-bastion", api.Reconnecting, window+3*time.Second)
	sb.CutNetwork(false)
	for _, n := range names {
		waitState(t, m, n, api.Up, 30*time.Second)
	}
	checkAll(t, sb)

	// A crash: connections reset, the VPS comes back by itself.
	before, _ := state(m, "vps")
	if err := sb.KillVPS(); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "vps", api.Reconnecting, 10*time.Second)
	for _, n := range names {
		waitState(t, m, n, api.Up, 30*time.Second)
	}
	if sb.VPSKilled() {
		t.Error("VPSKilled() still true after the VPS came back")
	}
	after, _ := state(m, "vps")
	if after.Reconnects <= before.Reconnects {
		t.Errorf("vps reconnects %d -> %d after a kill, want more", before.Reconnects, after.Reconnects)
	}
	checkAll(t, sb)

	stopEngine()
	engineStopped = true
	if err := sb.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	closed = true
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("sandbox dir %s still there after Close (stat: %v)", dir, err)
	}
	if left := listDir(t, home); len(left) != 0 {
		t.Errorf("the demo wrote into HOME: %v", left)
	}
}

// TestSandboxAlone checks the sandbox's own promises without the engine:
// its files, the known_hosts it writes, RestartVPS, a caller-given Dir.
func TestSandboxAlone(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	sb, err := Start(context.Background(), Options{Dir: dir, ReviveAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()

	st, err := os.Stat(filepath.Join(dir, identityName))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode %v, want 0600", st.Mode().Perm())
	}
	kh, err := os.ReadFile(filepath.Join(dir, knownHostsName))
	if err != nil {
		t.Fatal(err)
	}
	_, vpsPort, _ := net.SplitHostPort(sb.VPSAddr())
	if !strings.Contains(string(kh), "[127.0.0.1]:"+vpsPort+" ssh-ed25519 ") {
		t.Errorf("known_hosts lacks the VPS's [127.0.0.1]:%s entry:\n%s", vpsPort, kh)
	}
	if n := strings.Count(string(kh), "\n"); n != 2 {
		t.Errorf("known_hosts has %d lines, want 2 (VPS and bastion):\n%s", n, kh)
	}
	for _, n := range sb.Config.Names() {
		r, err := sb.Config.Resolve(n)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", n, err)
		}
		for _, h := range r.Hops {
			inDir := func(p string) bool { return filepath.Dir(p) == dir }
			if h.IdentityAgent != "none" || !h.IdentitiesOnly || len(h.IdentityFiles) != 1 || !inDir(h.IdentityFiles[0]) ||
				len(h.KnownHostsFiles) == 0 || !inDir(h.KnownHostsFiles[0]) || h.StrictHostKeyChecking != "yes" {
				t.Errorf("%s hop %s reaches outside the sandbox: %+v", n, h, h)
			}
		}
	}
	if b := sb.Banner(); !strings.Contains(b, sb.Services[0].Listen) || strings.Contains(b, "\n") {
		t.Errorf("Banner() = %q: want one line naming %s", b, sb.Services[0].Listen)
	}
	for _, s := range sb.Services {
		if !strings.Contains(s.Try, portOf(s.Listen)) {
			t.Errorf("service %s/%s: Try %q does not name its port %s", s.Profile, s.Forward, s.Try, s.Listen)
		}
	}

	// Kill with no auto-revive: the port refuses until RestartVPS.
	if err := sb.KillVPS(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", sb.VPSAddr(), 2*time.Second); err == nil {
		c.Close()
		t.Fatal("the killed VPS still accepts connections")
	}
	if err := sb.RestartVPS(); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", sb.VPSAddr(), 5*time.Second)
	if err != nil {
		t.Fatalf("the restarted VPS does not accept: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	greeting, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(greeting, "SSH-2.0-") {
		t.Fatalf("restarted VPS greeting %q, %v", greeting, err)
	}

	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if left := listDir(t, dir); len(left) != 0 {
		t.Errorf("Close left files in the caller's Dir: %v", left)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Close removed the caller's Dir: %v", err)
	}
}

// TestStartFailsCleanly: a Start that fails leaves nothing running.
func TestStartFailsCleanly(t *testing.T) {
	defer goleak.VerifyNone(t)
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	if sb, err := Start(context.Background(), Options{Dir: missing}); err == nil {
		sb.Close()
		t.Fatal("Start in a missing directory succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if sb, err := Start(ctx, Options{}); err == nil {
		sb.Close()
		t.Fatal("Start with a cancelled context succeeded")
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
