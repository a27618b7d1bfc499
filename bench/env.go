package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/tunnel/api"
)

// The clients compared. Their names are stable: they key the JSON report.
const (
	clientKuguri     = "kuguri"
	clientSSHGCM     = "ssh-aes128-gcm"
	clientSSHDefault = "ssh-default"
)

// allClients is the order clients are started and listed in.
var allClients = []string{clientKuguri, clientSSHGCM, clientSSHDefault}

// env is what every measure shares: one sshd, one client key, the target
// services on loopback, the kuguri binary.
type env struct {
	tb         testing.TB
	opts       Options
	dir        string // short private directory (unix socket paths are limited)
	srv        *sshdtest.Server
	signer     ssh.Signer
	keyPath    string
	knownHosts string
	emptyFile  string // an empty ssh_config for kuguri
	kuguriBin  string
	sshBin     string

	echo   string // echoes, half-closes when the peer does
	sink   string // counts bytes until EOF, answers the count (8 bytes)
	source string // reads an 8-byte size, sends that many bytes

	mu      sync.Mutex
	ciphers map[string]string // guarded by mu; client name -> negotiated cipher
}

func newEnv(tb testing.TB, opts Options) (*env, error) {
	e := &env{tb: tb, opts: opts, ciphers: map[string]string{}}
	dir, err := os.MkdirTemp("", "kb-")
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	e.dir = dir
	e.signer, e.keyPath = sshdtest.NewKey(tb, dir, "id_ed25519", "")
	// DEBUG1 makes sshd log "kex: client->server cipher: ..." for each
	// connection: that is how the harness learns what each client negotiated.
	e.srv = sshdtest.Start(tb, sshdtest.Options{
		Name:           "bench-sshd",
		AuthorizedKeys: []ssh.PublicKey{e.signer.PublicKey()},
		LogLevel:       "DEBUG1",
		ExtraConfig:    []string{"MaxStartups 1000:30:1000"},
	})
	e.knownHosts = filepath.Join(dir, "known_hosts")
	sshdtest.WriteKnownHosts(tb, e.knownHosts, e.srv.KnownHostsLine())
	e.emptyFile = filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(e.emptyFile, nil, 0o600); err != nil {
		return nil, err
	}
	e.sshBin = opts.SSH
	if e.sshBin == "" {
		e.sshBin = "/usr/bin/ssh"
	}
	if _, err := os.Stat(e.sshBin); err != nil {
		return nil, fmt.Errorf("OpenSSH client: %w", err)
	}
	e.kuguriBin = opts.Kuguri
	if e.kuguriBin == "" {
		if e.kuguriBin, err = buildKuguri(dir); err != nil {
			return nil, err
		}
	}
	e.echo = sshdtest.EchoServer(tb)
	e.sink = sshdtest.Serve(tb, sinkConn)
	e.source = sshdtest.Serve(tb, sourceConn)
	return e, nil
}

// buildKuguri builds ./cmd/kuguri of the module the harness runs in.
func buildKuguri(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "kuguri")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kuguri")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kuguri: %w: %s", err, b)
	}
	return bin, nil
}

const ioBufSize = 256 << 10

// sinkConn reads until EOF and answers the number of bytes read.
func sinkConn(c net.Conn) {
	buf := make([]byte, ioBufSize)
	var n int64
	for {
		m, err := c.Read(buf)
		n += int64(m)
		if err != nil {
			if err != io.EOF {
				return
			}
			break
		}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	c.Write(b[:])
}

// sourceConn reads a size and sends that many bytes, then closes.
func sourceConn(c net.Conn) {
	var b [8]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return
	}
	n := int64(binary.BigEndian.Uint64(b[:]))
	buf := make([]byte, ioBufSize)
	rand.Read(buf)
	if writeN(c, n, buf) != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// client is one running tunnel client with its forwards.
type client struct {
	name  string
	p     *proc
	addrs []string // local forward addresses, in the order asked
	sock  string   // kuguri: control socket
}

func (c *client) stop() { c.p.stop() }

// sshOpts are extra OpenSSH client options ("ServerAliveInterval=2").
type sshOpts []string

// startSSH starts `ssh -N -L ...` for each target, with variant's cipher.
func (e *env) startSSH(ctx context.Context, variant string, addr, user, knownHosts string, targets []string, extra sshOpts) (*client, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		c, err := e.startSSHOnce(ctx, variant, addr, user, knownHosts, targets, extra)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, lastErr
}

func (e *env) startSSHOnce(ctx context.Context, variant string, addr, user, knownHosts string, targets []string, extra sshOpts) (*client, error) {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{
		"-F", "/dev/null",
		"-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "ExitOnForwardFailure=yes",
		"-i", e.keyPath,
		"-N",
		"-p", port,
		"-l", user,
	}
	if variant == clientSSHGCM {
		args = append(args, "-c", "aes128-gcm@openssh.com")
	}
	for _, o := range extra {
		args = append(args, "-o", o)
	}
	var addrs []string
	for _, t := range targets {
		lp, err := freePort()
		if err != nil {
			return nil, err
		}
		local := net.JoinHostPort("127.0.0.1", strconv.Itoa(lp))
		addrs = append(addrs, local)
		args = append(args, "-L", local+":"+t)
	}
	args = append(args, host)
	cmd := exec.Command(e.sshBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir, "LC_ALL=C"}
	p, err := startProc(variant, cmd)
	if err != nil {
		return nil, err
	}
	c := &client{name: variant, p: p, addrs: addrs}
	// ssh binds its listeners after login; accepting means ready.
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for {
			conn, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			if p.exited() {
				return nil, fmt.Errorf("%s exited (%v): %s", variant, p.err, strings.TrimSpace(p.stderr.String()))
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				p.stop()
				return nil, fmt.Errorf("%s: forward %s not ready after 20s: %s", variant, a, p.stderr.String())
			}
			time.Sleep(5 * time.Millisecond) // poll interval
		}
	}
	return c, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// kprofile is one profile of a generated kuguri config.
type kprofile struct {
	name    string
	addr    string // sshd
	user    string
	known   string // known_hosts file
	targets []string
	extra   string // more YAML lines under the profile, indented by 4
}

// startKuguri runs `kuguri up` with a generated config and waits until every
// profile is up. addrs lists every forward's bound address, profile by
// profile.
func (e *env) startKuguri(ctx context.Context, profiles []kprofile) (*client, error) {
	dir, err := os.MkdirTemp(e.dir, "k")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("profiles:\n")
	var names []string
	for _, p := range profiles {
		host, port, _ := net.SplitHostPort(p.addr)
		names = append(names, p.name)
		fmt.Fprintf(&b, "  %s:\n    host: %s\n    port: %s\n    user: %s\n    identity_files: [%q]\n    known_hosts: %q\n",
			p.name, host, port, p.user, e.keyPath, p.known)
		b.WriteString(p.extra)
		b.WriteString("    forwards:\n")
		for i, t := range p.targets {
			fmt.Fprintf(&b, "      - {name: f%d, local: 127.0.0.1:0, remote: %q}\n", i+1, t)
		}
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "s")
	args := append([]string{"--config", cfg, "--ssh-config", e.emptyFile, "--socket", sock, "--log-level", "debug", "up"}, names...)
	cmd := exec.Command(e.kuguriBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "TMPDIR=" + dir, "LC_ALL=C"}
	p, err := startProc(clientKuguri, cmd)
	if err != nil {
		return nil, err
	}
	c := &client{name: clientKuguri, p: p, sock: sock}
	snap, err := c.waitState(ctx, 30*time.Second, func(s api.Snapshot) bool {
		for _, n := range names {
			pr, ok := s.Find(n)
			if !ok || pr.State != api.Up {
				return false
			}
			for _, f := range pr.Forwards {
				if f.State != api.Listening {
					return false
				}
			}
		}
		return true
	})
	if err != nil {
		p.stop()
		return nil, err
	}
	for _, n := range names {
		pr, _ := snap.Find(n)
		for _, f := range pr.Forwards {
			c.addrs = append(c.addrs, f.Listen)
		}
	}
	return c, nil
}

// waitState watches a kuguri's control socket until cond holds, and returns
// that snapshot.
func (c *client) waitState(ctx context.Context, timeout time.Duration, cond func(api.Snapshot) bool) (api.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cl *control.Client
	for {
		var err error
		cl, err = control.Dial(ctx, c.sock)
		if err == nil {
			break
		}
		if c.p.exited() {
			return api.Snapshot{}, fmt.Errorf("kuguri up exited (%v): %s", c.p.err, c.p.stderr.String())
		}
		if ctx.Err() != nil {
			return api.Snapshot{}, fmt.Errorf("kuguri control socket: %w", err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	defer cl.Close()
	ch, err := cl.Watch(ctx)
	if err != nil {
		return api.Snapshot{}, err
	}
	var last api.Snapshot
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				return last, fmt.Errorf("kuguri: watch ended: %s", c.p.stderr.String())
			}
			last = s
			if cond(s) {
				return s, nil
			}
		case <-ctx.Done():
			return last, fmt.Errorf("kuguri: wanted state not reached in %v (last: %s): %s", timeout, describe(last), c.p.stderr.String())
		}
	}
}

func describe(s api.Snapshot) string {
	var parts []string
	for _, p := range s.Profiles {
		parts = append(parts, fmt.Sprintf("%s=%s %s", p.Name, p.State, p.LastError))
	}
	return strings.Join(parts, "; ")
}

var kexCipher = regexp.MustCompile(`kex: client->server cipher: (\S+)`)

// noteCipher records the cipher the connection(s) made since the sshd log
// had length from negotiated, for client name.
func (e *env) noteCipher(name string, from int) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		log := e.srv.Log()
		if from > len(log) {
			from = 0
		}
		if m := kexCipher.FindAllStringSubmatch(log[from:], -1); len(m) > 0 {
			set := map[string]bool{}
			var list []string
			for _, x := range m {
				if !set[x[1]] {
					set[x[1]] = true
					list = append(list, x[1])
				}
			}
			e.mu.Lock()
			e.ciphers[name] = strings.Join(list, ",")
			e.mu.Unlock()
			return
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// start starts one of the compared clients with a forward to each target
// through the shared sshd, and notes its cipher.
func (e *env) start(ctx context.Context, name string, targets []string, extra sshOpts) (*client, error) {
	from := len(e.srv.Log())
	var c *client
	var err error
	if name == clientKuguri {
		c, err = e.startKuguri(ctx, []kprofile{{name: "bench", addr: e.srv.Addr, user: e.srv.User, known: e.knownHosts, targets: targets}})
	} else {
		c, err = e.startSSH(ctx, name, e.srv.Addr, e.srv.User, e.knownHosts, targets, extra)
	}
	if err != nil {
		return nil, err
	}
	e.noteCipher(name, from)
	return c, nil
}

// startAll starts every compared client; on error the started ones are
// stopped.
func (e *env) startAll(ctx context.Context, targets []string) (map[string]*client, error) {
	out := map[string]*client{}
	for _, n := range allClients {
		c, err := e.start(ctx, n, targets, nil)
		if err != nil {
			stopAll(out)
			return nil, err
		}
		out[n] = c
	}
	return out, nil
}

func stopAll(cs map[string]*client) {
	for _, c := range cs {
		c.stop()
	}
}

var errShort = errors.New("short transfer")

// sendBytes sends n bytes to the sink through addr and waits for the sink's
// count; it returns the elapsed time.
func sendBytes(addr string, n int64, buf []byte) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	if err := writeN(c, n, buf); err != nil {
		return 0, err
	}
	c.(*net.TCPConn).CloseWrite()
	var b [8]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, fmt.Errorf("sink's count: %w", err)
	}
	if got := int64(binary.BigEndian.Uint64(b[:])); got != n {
		return 0, fmt.Errorf("%w: sink got %d of %d bytes", errShort, got, n)
	}
	return time.Since(start), nil
}

// writeN writes n bytes to w, buf over and over.
func writeN(w io.Writer, n int64, buf []byte) error {
	for n > 0 {
		k, err := w.Write(buf[:min(int64(len(buf)), n)])
		n -= int64(k)
		if err != nil {
			return err
		}
	}
	return nil
}

// recvBytes asks the source for n bytes through addr and reads them to EOF.
func recvBytes(addr string, n int64, buf []byte) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	if _, err := c.Write(b[:]); err != nil {
		return 0, err
	}
	var got int64
	for {
		m, err := c.Read(buf)
		got += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if got != n {
		return 0, fmt.Errorf("%w: got %d of %d bytes", errShort, got, n)
	}
	return time.Since(start), nil
}

// echoOnce connects, sends payload, half-closes, reads it all back and
// checks it.
func echoOnce(addr string, payload []byte, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if string(got) != string(payload) {
		return fmt.Errorf("echo: got %d bytes back, want %d (or content differs)", len(got), len(payload))
	}
	return nil
}

// pingOnce connects, sends one byte, reads it back and closes: one
// new-connection round trip.
func pingOnce(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	return nil
}
