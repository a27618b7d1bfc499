//go:build linux

package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runDir is where iproute2 keeps the bind mounts that name namespaces.
const runDir = "/run/netns"

// cmdTimeout bounds every ip/nft command: they are quick, but the machines
// running tests are shared and loaded.
const cmdTimeout = 30 * time.Second

// skipOrFail skips the test, or fails it when CI=true.
func skipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("netns: %s (CI=true: a skip here would hide a gap)", msg)
	}
	tb.Skipf("netns: %s", msg)
}

// Require skips the test unless network namespaces can be made here: Linux,
// root, ip and nft installed. Under CI=true it fails instead.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(tb, "network namespaces need root (euid %d)", os.Geteuid())
		return
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			skipOrFail(tb, "%s not installed: %v (apt-get install iproute2 nftables)", bin, err)
			return
		}
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		skipOrFail(tb, "kernel without network namespaces: %v", err)
	}
}

// NS is one named network namespace made by New. Its loopback is up.
type NS struct {
	// Name is the namespace's name, as `ip netns` knows it.
	Name string
	// Role is the short label given to New ("client", "vps").
	Role string
	tb   testing.TB
}

// stalePattern matches names made by New: kg<hex>-<pid>-<role>.
var stalePattern = regexp.MustCompile(`^kg[0-9a-f]{6}-([0-9]+)-`)

// New makes a fresh network namespace for role (a short label such as
// "client") with its loopback up, and deletes it at cleanup after killing
// any process still inside it.
func New(tb testing.TB, role string) *NS {
	tb.Helper()
	Require(tb)
	sweepStale(tb)
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("netns: random name: %v", err)
	}
	n := &NS{Name: fmt.Sprintf("kg%s-%d-%s", hex.EncodeToString(b[:]), os.Getpid(), role), Role: role, tb: tb}
	if out, err := run(nil, "ip", "netns", "add", n.Name); err != nil {
		tb.Fatalf("netns: ip netns add %s: %v: %s", n.Name, err, out)
	}
	tb.Cleanup(n.destroy)
	n.IP(tb, "link", "set", "lo", "up")
	return n
}

// destroy kills what is left inside the namespace and deletes it (which
// also deletes its veths). Every process a test starts in a namespace should
// be gone by now (cleanups run last-registered first); one still there is a
// leak and fails the test.
func (n *NS) destroy() {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := n.Pids()
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			n.tb.Errorf("netns %s: processes still inside at cleanup, killing them: %v", n.Name, pids)
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			break
		}
		time.Sleep(50 * time.Millisecond) // poll: killed processes are reaped asynchronously
	}
	if out, err := run(nil, "ip", "netns", "del", n.Name); err != nil {
		n.tb.Errorf("netns: ip netns del %s: %v: %s", n.Name, err, out)
	}
}

// sweepStale deletes namespaces that New made in test processes that have
// died since (a test binary killed by its -timeout skips its cleanups).
// Namespaces with processes still inside are left alone.
func sweepStale(tb testing.TB) {
	ents, err := os.ReadDir(runDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		m := stalePattern.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue
		}
		stale := &NS{Name: e.Name(), tb: tb}
		if len(stale.Pids()) > 0 {
			continue
		}
		if _, err := run(nil, "ip", "netns", "del", e.Name()); err == nil {
			tb.Logf("netns: deleted stale namespace %s (its test process %d is gone)", e.Name(), pid)
		}
	}
}

// Path is the namespace's bind mount, usable with setns(2) or nsenter.
func (n *NS) Path() string { return filepath.Join(runDir, n.Name) }

// Pids lists the processes inside the namespace, except the test process
// itself.
func (n *NS) Pids() []int {
	out, err := run(nil, "ip", "netns", "pids", n.Name)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func run(stdin []byte, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// IP runs `ip -n NAME args...` and fails the test on error.
func (n *NS) IP(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := run(nil, "ip", append([]string{"-n", n.Name}, args...)...)
	if err != nil {
		tb.Fatalf("netns %s: ip %s: %v: %s", n.Role, strings.Join(args, " "), err, out)
	}
	return out
}

// Command returns a command that runs name inside the namespace
// (`ip netns exec NAME name args...`, which execs in place: the process's
// pid is name's own). It runs in its own process group and is killed when
// the test process dies; the caller starts, waits for and kills it.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Run runs name inside the namespace to completion and fails the test on
// error; it returns the combined output.
func (n *NS) Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := run(nil, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	if err != nil {
		tb.Fatalf("netns %s: %s %s: %v: %s", n.Role, name, strings.Join(args, " "), err, out)
	}
	return out
}

// Nft loads an nft script (`nft -f -`) inside the namespace and fails the
// test on error.
func (n *NS) Nft(tb testing.TB, script string) {
	tb.Helper()
	out, err := run([]byte(script), "ip", "netns", "exec", n.Name, "nft", "-f", "-")
	if err != nil {
		tb.Fatalf("netns %s: nft -f -: %v: %s\nscript:\n%s", n.Role, err, out, script)
	}
}

// blackHoleTable is the nft table BlackHole adds.
const blackHoleTable = "kgblackhole"

// BlackHole makes the namespace drop every packet it receives, silently:
// no RST, no ICMP. Established TCP connections to it stall instead of
// failing, which is what a dead Wi-Fi or a crashed NAT looks like. Undo it
// with ClearBlackHole (or let the namespace's deletion drop it).
func (n *NS) BlackHole(tb testing.TB) {
	tb.Helper()
	n.Nft(tb, "add table inet "+blackHoleTable+"\n"+
		"add chain inet "+blackHoleTable+" in { type filter hook input priority 0; policy accept; }\n"+
		"add rule inet "+blackHoleTable+" in drop\n")
}

// ClearBlackHole removes BlackHole's rule.
func (n *NS) ClearBlackHole(tb testing.TB) {
	tb.Helper()
	n.Nft(tb, "delete table inet "+blackHoleTable+"\n")
}

// Do runs fn on an OS thread switched into the namespace, then switches the
// thread back. Sockets created by fn (net.Dial, net.Listen) stay in the
// namespace for their whole life and may be used from any goroutine
// afterwards. fn must not start goroutines that create sockets: they would
// run on other threads, in the caller's namespace.
func (n *NS) Do(fn func() error) error {
	target, err := os.Open(n.Path())
	if err != nil {
		return fmt.Errorf("netns %s: %w", n.Role, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: own namespace: %w", n.Role, err)
			return
		}
		defer home.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: setns: %w", n.Role, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: a goroutine that exits locked takes its thread
			// with it, so no other goroutine ever runs in the namespace.
			errc <- fmt.Errorf("netns %s: switching back: %w", n.Role, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// DialContext dials addr from inside the namespace.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Dial dials a TCP addr from inside the namespace, giving up after timeout.
func (n *NS) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n.DialContext(ctx, "tcp", addr)
}

// Listen listens on a TCP addr inside the namespace.
func (n *NS) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// Veth joins namespaces a and b with a veth pair, created directly inside
// them (nothing appears in the root namespace): ifA in a with addrA, ifB in b
// with addrB (addresses in CIDR form, "10.231.1.1/24"). Both ends are up.
func Veth(tb testing.TB, a *NS, ifA, addrA string, b *NS, ifB, addrB string) {
	tb.Helper()
	if out, err := run(nil, "ip", "link", "add", "name", ifA, "netns", a.Name, "type", "veth", "peer", "name", ifB, "netns", b.Name); err != nil {
		tb.Fatalf("netns: veth %s/%s <-> %s/%s: %v: %s", a.Role, ifA, b.Role, ifB, err, out)
	}
	a.IP(tb, "addr", "add", addrA, "dev", ifA)
	b.IP(tb, "addr", "add", addrB, "dev", ifB)
	a.IP(tb, "link", "set", ifA, "up")
	b.IP(tb, "link", "set", ifB, "up")
}
