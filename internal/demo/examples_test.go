package demo

// Checks of the server-side and RDP examples in examples/server and
// examples/rdp (they have no Go package of their own; the demo shares their
// targets, so their checks live here).

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kuguri/kuguri/internal/sshdtest"
)

func examplesDir(t *testing.T, sub string) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "examples", sub))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("examples dir: %v", err)
	}
	return d
}

// skipOrFail skips, or fails when CI=true (where every tool is installed).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: a skip here would hide a gap)", args...)
	}
	t.Skipf(format, args...)
}

// TestServerExampleSSHDConfig runs the real sshd's config test on a full
// config that Includes examples/server/sshd_config.d/kuguri.conf, and checks
// the effective values (sshd -T) are the ones the README promises.
func TestServerExampleSSHDConfig(t *testing.T) {
	sshdtest.Require(t)
	frag := filepath.Join(examplesDir(t, "server"), "sshd_config.d", "kuguri.conf")
	dir := t.TempDir()
	_, hostKey := sshdtest.NewKey(t, dir, "ssh_host_ed25519_key", "")
	cfg := filepath.Join(dir, "sshd_config")
	full := strings.Join([]string{
		"Include " + frag, // first, as Debian's sshd_config does
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"UsePAM no",
		"",
	}, "\n")
	if err := os.WriteFile(cfg, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sshdtest.SSHDPath, "-t", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t rejects the fragment: %v\n%s", err, out)
	}
	out, err := exec.Command(sshdtest.SSHDPath, "-T", "-f", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		if k != "" {
			got[k] = v
		}
	}
	want := map[string]string{
		"port":                         "22022",
		"passwordauthentication":       "no",
		"kbdinteractiveauthentication": "no",
		"pubkeyauthentication":         "yes",
		"permitrootlogin":              "no",
		"allowtcpforwarding":           "local",
		"permitopen":                   "127.0.0.1:5432 127.0.0.1:8443 10.0.0.5:3389",
		"gatewayports":                 "no",
		"x11forwarding":                "no",
		"clientaliveinterval":          "30",
		"clientalivecountmax":          "3",
		"maxauthtries":                 "3",
		"authenticationmethods":        "publickey",
		"permitemptypasswords":         "no",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("sshd -T: %s = %q, want %q", k, got[k], v)
		}
	}
	// The demo VPS allows exactly what the example's PermitOpen allows.
	permit := strings.Fields(got["permitopen"])
	demo := []string{adminTarget, rdpTarget, dbTarget}
	slices.Sort(permit)
	slices.Sort(demo)
	if !slices.Equal(permit, demo) {
		t.Errorf("PermitOpen %v and the demo's targets %v differ", permit, demo)
	}
}

// TestServerExampleNftables checks examples/server/nftables.conf with
// `nft -c` (parse and validate, apply nothing).
func TestServerExampleNftables(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("nftables is linux only")
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nft"); serr != nil {
			skipOrFail(t, "nft not installed (apt-get install nftables)")
		}
		nft = "/usr/sbin/nft"
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "nft -c needs root (euid %d)", os.Geteuid())
	}
	file := filepath.Join(examplesDir(t, "server"), "nftables.conf")
	if out, err := exec.Command(nft, "-c", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("nft -c -f %s: %v\n%s", file, err, out)
	}
	// The check is real: a broken copy is rejected.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.nft")
	broken := strings.Replace(string(data), "tcp dport 22022", "tcp dport 22022x", 1)
	if broken == string(data) {
		t.Fatal("nftables.conf no longer opens tcp dport 22022")
	}
	if err := os.WriteFile(bad, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(nft, "-c", "-f", bad).Run(); err == nil {
		t.Fatal("nft -c accepted a broken ruleset: the check proves nothing")
	}
}

// TestExampleScriptsParse runs `sh -n` on the shell examples.
func TestExampleScriptsParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		skipOrFail(t, "no sh on PATH")
	}
	for _, f := range []string{
		filepath.Join(examplesDir(t, "server"), "ufw.sh"),
		filepath.Join(examplesDir(t, "rdp"), "rdp.sh"),
	} {
		if out, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", f, err, out)
		}
	}
}

// TestRDPScript runs examples/rdp/rdp.sh with stand-ins for kuguri and
// FreeRDP on PATH and checks the command line it builds and its hints.
func TestRDPScript(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a POSIX shell script")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		skipOrFail(t, "no sh on PATH")
	}
	script := filepath.Join(examplesDir(t, "rdp"), "rdp.sh")
	bin := t.TempDir()
	// The stand-ins print their argv, one argument per line.
	echoArgs := "#!" + sh + "\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"
	writeExe := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeExe("kuguri", echoArgs)
	// The script's only outside tool besides those two: cat, for the hints.
	cat, err := exec.LookPath("cat")
	if err != nil {
		skipOrFail(t, "no cat on PATH")
	}
	if err := os.Symlink(cat, filepath.Join(bin, "cat")); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(sh, append([]string{script}, args...)...)
		cmd.Env = append([]string{"PATH=" + bin, "HOME=" + t.TempDir()}, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// No FreeRDP: exit 127 with the Remmina hint, or the Termux steps.
	out, err := run(nil)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 || !strings.Contains(out, "kuguri connect win") || !strings.Contains(out, "Remmina") {
		t.Errorf("without FreeRDP: err %v, output:\n%s", err, out)
	}
	out, err = run([]string{"PREFIX=/data/data/com.termux/files/usr"})
	if err == nil || !strings.Contains(out, "Termux") || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("under Termux without FreeRDP: err %v, output:\n%s", err, out)
	}

	writeExe("xfreerdp", echoArgs)
	out, err = run(nil)
	if err != nil {
		t.Fatalf("rdp.sh: %v\n%s", err, out)
	}
	want := "connect\nwin\n--\nxfreerdp\n/v:{rdp}\n/u:Administrator\n/cert:tofu\n"
	if out != want {
		t.Errorf("rdp.sh ran:\n%s\nwant:\n%s", out, want)
	}
	out, err = run([]string{"RDP_USER=alice"}, "lab", "/size:1280x800")
	if err != nil {
		t.Fatalf("rdp.sh lab: %v\n%s", err, out)
	}
	want = "connect\nlab\n--\nxfreerdp\n/v:{rdp}\n/u:alice\n/cert:tofu\n/size:1280x800\n"
	if out != want {
		t.Errorf("rdp.sh lab ran:\n%s\nwant:\n%s", out, want)
	}
}
