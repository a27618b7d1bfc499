package tunnel

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/kuguri/kuguri/profile"
)

// dialTCP dials hop 1 over TCP with keepalive and, on Linux and Android,
// TCP_USER_TIMEOUT set to the dead-link bound.
func dialTCP(ctx context.Context, addr string, s profile.Settings, timeout time.Duration, resolver *net.Resolver) (net.Conn, error) {
	dead := s.KeepaliveInterval * time.Duration(max(s.KeepaliveCountMax, 1))
	if dead <= 0 {
		dead = timeout
	}
	d := net.Dialer{
		Timeout:   timeout,
		KeepAlive: max(s.KeepaliveInterval, time.Second),
		Control:   tcpControl(max(dead, 5*time.Second)),
		Resolver:  resolver,
	}
	return d.DialContext(ctx, "tcp", addr)
}

// proxyCommandConn runs `sh -c cmd` (sh found on PATH: Termux has no
// /bin/sh) and returns a net.Conn over its stdin and stdout.
func proxyCommandConn(ctx context.Context, command, addr string) (net.Conn, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("ProxyCommand: %w", err)
	}
	cmd := exec.Command(sh, "-c", command)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("ProxyCommand: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ProxyCommand: %w", err)
	}
	stderr := &tailBuffer{max: 512}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ProxyCommand %q: %w", command, err)
	}
	if err := ctx.Err(); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return &pipeConn{cmd: cmd, r: stdout, w: stdin, stderr: stderr, addr: pipeAddr(addr)}, nil
}

type pipeAddr string

func (a pipeAddr) Network() string { return "proxycommand" }
func (a pipeAddr) String() string  { return string(a) }

// pipeConn is a net.Conn over a ProxyCommand's pipes. Deadlines are not
// supported (the handshake is bounded by closing the conn instead).
type pipeConn struct {
	cmd    *exec.Cmd
	r      io.ReadCloser
	w      io.WriteCloser
	stderr *tailBuffer
	addr   pipeAddr
	once   sync.Once
}

func (c *pipeConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		if msg := c.stderr.String(); msg != "" {
			return n, fmt.Errorf("ProxyCommand exited: %s: %w", msg, io.ErrUnexpectedEOF)
		}
	}
	return n, err
}

func (c *pipeConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func (c *pipeConn) Close() error {
	c.once.Do(func() {
		c.w.Close()
		c.r.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	return nil
}

func (c *pipeConn) LocalAddr() net.Addr                { return pipeAddr("proxycommand") }
func (c *pipeConn) RemoteAddr() net.Addr               { return c.addr }
func (c *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
