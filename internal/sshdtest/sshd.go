package sshdtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDPath is where the OpenSSH daemon is expected (Debian's openssh-server).
const SSHDPath = "/usr/sbin/sshd"

// startTimeout bounds how long Start, Restart and friends wait for sshd to
// report that it listens. Generous: the machines running tests are shared.
const startTimeout = 20 * time.Second

// Options configures Start. The zero value is a usable server that accepts no
// keys.
type Options struct {
	// AuthorizedKeys are written to the server's AuthorizedKeysFile.
	AuthorizedKeys []ssh.PublicKey
	// ExtraConfig lines are added to sshd_config. They are placed before the
	// harness defaults (sshd keeps the first value it reads, so they override
	// them), except that a "Match" line and everything after it go last.
	ExtraConfig []string
	// Port to listen on; 0 picks a free one.
	Port int
	// HostKey, if set, is the server's host key. It must carry its private
	// key: a signer from NewHostKey, NewKey, NewRSAKey or another
	// Server.HostSigner. Nil generates a fresh ed25519 key.
	HostKey ssh.Signer
	// Name labels the server in test logs ("bastion", "target").
	Name string
	// LogLevel overrides sshd's LogLevel (default VERBOSE). VERBOSE logs
	// connections and logins but not forwards; "DEBUG1" also logs each
	// direct-tcpip request, see DirectTCPIPLogLine.
	LogLevel string
	// NetNS, if set, runs sshd inside that named network namespace
	// ("ip netns exec NETNS sshd ..."; Linux, root only). The namespace must
	// exist and outlive the server (internal/netns makes such namespaces).
	// Give Port too: a free port is otherwise picked in the caller's
	// namespace, which says little about NETNS (a fresh one has none in use).
	NetNS string
	// ListenAddress is the IP address sshd listens on; empty means
	// 127.0.0.1. With NetNS it is usually an address of that namespace.
	// Addr and KnownHostsLine use it.
	ListenAddress string
}

// Server is one running (or killed) sshd. Its exported fields are set by
// Start and changed only by RestartWithNewHostKey; read them from the test
// goroutine.
type Server struct {
	Addr       string        // "127.0.0.1:PORT" (Options.ListenAddress when set)
	Port       int           // TCP port sshd listens on
	HostKey    ssh.PublicKey // the host key sshd presents
	HostSigner ssh.Signer    // its private half (reusable as Options.HostKey)
	User       string        // the login name sshd accepts: "root" or the current user
	Dir        string        // private directory holding sshd_config, keys, pid file

	// Set at construction.
	tb          testing.TB
	name        string
	netns       string // Options.NetNS
	listenIP    string // Options.ListenAddress or 127.0.0.1
	configPath  string
	hostKeyPath string
	log         Buffer

	mu   sync.Mutex
	proc *process // guarded by mu; the current sshd, nil before first start
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	err  error         // Wait's result, valid after done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// skipOrFail skips the test, or fails it when CI=true.
func skipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("sshdtest: %s (CI=true: a skip here would hide a gap)", msg)
	}
	tb.Skipf("sshdtest: %s", msg)
}

// Require skips the test when a real sshd cannot be run here (or fails it
// when CI=true).
func Require(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		skipOrFail(tb, "real-sshd tests run on linux only (GOOS=%s)", runtime.GOOS)
		return
	}
	fi, err := os.Stat(SSHDPath)
	if err != nil {
		skipOrFail(tb, "OpenSSH sshd not installed: %v (apt-get install openssh-server)", err)
		return
	}
	if fi.Mode()&0o111 == 0 {
		skipOrFail(tb, "%s is not executable", SSHDPath)
		return
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			skipOrFail(tb, "cannot create /run/sshd (sshd's privilege-separation dir): %v", err)
		}
	}
}

// RequireRoot skips the test unless it runs as root (or fails it when
// CI=true).
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(tb, "test needs root (euid %d)", os.Geteuid())
	}
}

// Start runs a fresh sshd on 127.0.0.1 (or Options.ListenAddress, inside
// Options.NetNS) and waits until it listens. The
// server and all its children are killed by tb.Cleanup.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	Require(tb)
	s := &Server{tb: tb, name: opts.Name, Dir: tb.TempDir(), netns: opts.NetNS, listenIP: opts.ListenAddress}
	if s.name == "" {
		s.name = "sshd"
	}
	if s.listenIP == "" {
		s.listenIP = "127.0.0.1"
	}
	if s.netns != "" {
		if _, err := exec.LookPath("ip"); err != nil {
			skipOrFail(tb, "Options.NetNS needs iproute2's ip: %v (apt-get install iproute2)", err)
			return nil
		}
	}
	s.configPath = filepath.Join(s.Dir, "sshd_config")
	s.hostKeyPath = filepath.Join(s.Dir, "ssh_host_key")
	s.User = loginName(tb)

	host := opts.HostKey
	if host == nil {
		host = NewHostKey(tb)
	}
	s.setHostKey(host)

	var ak bytes.Buffer
	for _, k := range opts.AuthorizedKeys {
		ak.Write(ssh.MarshalAuthorizedKey(k))
	}
	akPath := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(akPath, ak.Bytes(), 0o600); err != nil {
		tb.Fatalf("sshdtest %s: %v", s.name, err)
	}

	tb.Cleanup(func() {
		s.Kill()
		if tb.Failed() {
			tb.Logf("sshdtest %s (%s) log:\n%s", s.name, s.Addr, s.Log())
		}
	})

	fixed := opts.Port != 0
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := opts.Port
		if !fixed {
			port = freePort(tb)
		}
		s.Port = port
		s.Addr = net.JoinHostPort(s.listenIP, strconv.Itoa(port))
		s.writeConfig(opts, akPath)
		if fixed {
			s.startRetrying()
			return s
		}
		err := s.launch()
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	tb.Fatalf("sshdtest %s: %v\nlog:\n%s", s.name, lastErr, s.Log())
	return nil
}

func loginName(tb testing.TB) string {
	if os.Geteuid() == 0 {
		return "root"
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	tb.Fatalf("sshdtest: cannot tell the current user's login name")
	return ""
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("sshdtest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *Server) setHostKey(signer ssh.Signer) {
	s.tb.Helper()
	h, ok := signer.(privateKeyHolder)
	if !ok {
		s.tb.Fatalf("sshdtest %s: Options.HostKey %T does not carry its private key; use NewHostKey or a Server.HostSigner", s.name, signer)
	}
	writePrivateKey(s.tb, s.hostKeyPath, s.name+" host key", "", h.privateKey())
	s.HostSigner = signer
	s.HostKey = signer.PublicKey()
}

func quote(path string) string { return `"` + path + `"` }

func (s *Server) writeConfig(opts Options, akPath string) {
	var head, match []string
	inMatch := false
	for _, l := range opts.ExtraConfig {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], "Match") {
			inMatch = true
		}
		if inMatch {
			match = append(match, l)
		} else {
			head = append(head, l)
		}
	}
	logLevel := opts.LogLevel
	if logLevel == "" {
		logLevel = "VERBOSE"
	}
	var b strings.Builder
	b.WriteString("# written by kuguri internal/sshdtest\n")
	for _, l := range head {
		b.WriteString(l + "\n")
	}
	lines := []string{
		"Port " + strconv.Itoa(s.Port),
		"ListenAddress " + s.listenIP,
		"HostKey " + quote(s.hostKeyPath),
		"AuthorizedKeysFile " + quote(akPath),
		"PidFile " + quote(filepath.Join(s.Dir, "sshd.pid")),
		"UsePAM no",
		"StrictModes no",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"LogLevel " + logLevel,
		"AllowTcpForwarding yes",
		"AllowAgentForwarding yes",
		"X11Forwarding no",
		"PrintMotd no",
		"PrintLastLog no",
		"MaxStartups 100:30:200",
		"MaxSessions 100",
	}
	if os.Geteuid() == 0 {
		lines = append(lines, "PermitRootLogin prohibit-password")
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	for _, l := range match {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(s.configPath, []byte(b.String()), 0o600); err != nil {
		s.tb.Fatalf("sshdtest %s: write config: %v", s.name, err)
	}
}

var errAddrInUse = errors.New("address already in use")

// launch starts sshd once and waits until it listens or exits.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return fmt.Errorf("sshd still running (pid %d)", s.proc.cmd.Process.Pid)
	}
	from := s.log.Len()
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", s.configPath)
	cmd.SysProcAttr = sysProcAttr()
	if s.netns != "" {
		// ip netns exec execs sshd in place: the pid stays sshd's, so Kill
		// and Stop work unchanged. It also gets a parent-death signal, so
		// it never outlives the test process inside a namespace.
		cmd = exec.Command("ip", "netns", "exec", s.netns, SSHDPath, "-D", "-e", "-f", s.configPath)
		cmd.SysProcAttr = sysProcAttrNetNS()
	}
	cmd.Stdout = &s.log
	cmd.Stderr = &s.log
	// Session children inherit stderr; once they are killed the pipe closes,
	// but never let Wait hang on a straggler.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", SSHDPath, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	want := fmt.Sprintf("Server listening on %s port %d", s.listenIP, s.Port)
	deadline := time.Now().Add(startTimeout)
	for {
		out := s.log.From(from)
		if strings.Contains(out, want) {
			return nil
		}
		if p.exited() {
			if strings.Contains(out, "Address already in use") {
				return fmt.Errorf("sshd on port %d: %w", s.Port, errAddrInUse)
			}
			return fmt.Errorf("sshd exited before listening (%v): %s", p.err, strings.TrimSpace(out))
		}
		if time.Now().After(deadline) {
			killTree(cmd.Process.Pid)
			<-p.done
			return fmt.Errorf("sshd did not report %q within %v", want, startTimeout)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// startRetrying launches sshd on s.Port, retrying while the port is still
// held (a killed server's port can linger briefly).
func (s *Server) startRetrying() {
	s.tb.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.launch()
		if err == nil {
			return
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			s.tb.Fatalf("sshdtest %s: %v\nlog:\n%s", s.name, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond) // poll interval while the port frees up
	}
}

// Pid returns the listener's process id, or 0 when it is not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Running reports whether the listener process is alive.
func (s *Server) Running() bool { return s.Pid() != 0 }

// Pids returns the listening sshd's pid and those of its descendants (the
// per-connection sshd processes, on Linux); nil when it is not running.
func (s *Server) Pids() []int {
	pid := s.Pid()
	if pid == 0 {
		return nil
	}
	return append([]int{pid}, descendants(pid)...)
}

// Kill simulates a crash: SIGKILL to the listener and every descendant
// (per-connection sshd processes and their sessions). Established SSH
// connections see their TCP connections torn down. Kill waits until the
// listener is gone; it is a no-op when nothing runs.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil || p.exited() {
		return
	}
	killTree(p.cmd.Process.Pid)
	<-p.done
}

// Stop ends sshd politely (SIGTERM to the listener and its children), and
// kills whatever is left after a few seconds.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil || p.exited() {
		return
	}
	termTree(p.cmd.Process.Pid)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		killTree(p.cmd.Process.Pid)
		<-p.done
	}
}

// Restart kills sshd if it still runs and starts it again on the same port
// with the same host key and configuration.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	s.startRetrying()
}

// RestartWithNewHostKey kills sshd, gives it a fresh ed25519 host key
// (HostKey and HostSigner change) and starts it on the same port.
func (s *Server) RestartWithNewHostKey() {
	s.tb.Helper()
	s.Kill()
	s.setHostKey(NewHostKey(s.tb))
	s.startRetrying()
}

// Log returns everything sshd (and its per-connection children) wrote with
// -e so far, across restarts.
func (s *Server) Log() string { return s.log.String() }

// WaitLog waits until sshd's log contains substr, failing the test after
// timeout. sshd writes asynchronously, so assertions on the log use this.
func (s *Server) WaitLog(tb testing.TB, substr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(s.log.String(), substr) {
		if time.Now().After(deadline) {
			tb.Fatalf("sshdtest %s: log has no %q after %v:\n%s", s.name, substr, timeout, s.Log())
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// KnownHostsLine is the known_hosts line for this server:
// "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
}

// ClientConfig is an x/crypto/ssh client config that logs in as s.User with
// the given keys and accepts only this server's current host key.
func (s *Server) ClientConfig(keys ...ssh.Signer) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(keys...)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey),
		Timeout:         15 * time.Second,
	}
}

// Dial connects to the server with x/crypto/ssh and fails the test on error.
// The client is closed at cleanup.
func (s *Server) Dial(tb testing.TB, keys ...ssh.Signer) *ssh.Client {
	tb.Helper()
	c, err := ssh.Dial("tcp", s.Addr, s.ClientConfig(keys...))
	if err != nil {
		tb.Fatalf("sshdtest %s: dial %s: %v\nlog:\n%s", s.name, s.Addr, err, s.Log())
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// DirectTCPIPLogLine is the text an sshd at LogLevel DEBUG1 logs when a
// client asks it to forward to addr ("127.0.0.1:PORT"), for use with
// WaitLog: "target 127.0.0.1 port PORT".
func DirectTCPIPLogLine(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return "target " + host + " port " + port
}

// Chain starts two sshds on loopback that accept keys: a bastion and a
// target reached through it. The bastion allows TCP forwarding and logs at
// DEBUG1, so a test can assert which forwards it carried
// (bastion.WaitLog(t, DirectTCPIPLogLine(target.Addr), ...)).
func Chain(tb testing.TB, keys ...ssh.PublicKey) (bastion, target *Server) {
	tb.Helper()
	bastion = Start(tb, Options{Name: "bastion", AuthorizedKeys: keys, LogLevel: "DEBUG1"})
	target = Start(tb, Options{Name: "target", AuthorizedKeys: keys})
	return bastion, target
}

// Buffer is a bytes.Buffer safe for concurrent writes and reads: for
// capturing a process's output or a logger while a test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// From returns what was written after the first n bytes.
func (b *Buffer) From(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.buf.Len() {
		return ""
	}
	return string(b.buf.Bytes()[n:])
}
