package netenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// TermuxPrefix is Termux's $PREFIX, used on Android when PREFIX is unset.
const TermuxPrefix = "/data/data/com.termux/files/usr"

// systemResolvConf is where Go's resolver reads its configuration on Unix.
const systemResolvConf = "/etc/resolv.conf"

// Env is the part of the process environment the functions here read. A zero
// field means the real one: os.Getenv, os.ReadFile, runtime.GOOS.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	GOOS     string
}

func (e Env) withDefaults() Env {
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.ReadFile == nil {
		e.ReadFile = os.ReadFile
	}
	if e.GOOS == "" {
		e.GOOS = runtime.GOOS
	}
	return e
}

// Plan says where DNS answers will come from; Nameservers computes it.
type Plan struct {
	// System is true when Go's default resolver is fine: /etc/resolv.conf is
	// readable and names a server, or the OS resolves names itself
	// (Windows, macOS, iOS, Plan 9).
	System bool
	// Source names where Servers came from: a resolv.conf path, or
	// "configured resolver". Empty when System or when nothing was found.
	Source string
	// Servers are the DNS servers to dial in order, each with a port.
	Servers []netip.AddrPort
}

// Nameservers decides which DNS servers to use, in this order:
//
//  1. Go's default (Plan.System) when the OS resolves names itself or
//     /etc/resolv.conf is readable and has at least one nameserver line;
//  2. the nameserver lines of $PREFIX/etc/resolv.conf (on Android with PREFIX
//     unset, Termux's prefix is assumed);
//  3. configured, an IP address with an optional port ("9.9.9.9",
//     "9.9.9.9:5353", "2620:fe::fe", "[2620:fe::fe]:53"; default port 53).
//
// With none of them it returns an empty Plan: the caller should warn that
// host names will probably not resolve. The error is for a configured
// resolver that is not an IP address (a name cannot be resolved without a
// resolver).
func Nameservers(env Env, configured string) (Plan, error) {
	env = env.withDefaults()
	switch env.GOOS {
	case "windows", "darwin", "ios", "plan9":
		return Plan{System: true}, nil
	}
	if b, err := env.ReadFile(systemResolvConf); err == nil && len(parseResolvConf(b)) > 0 {
		return Plan{System: true}, nil
	}
	prefix := env.Getenv("PREFIX")
	if prefix == "" && env.GOOS == "android" {
		prefix = TermuxPrefix
	}
	if prefix != "" {
		path := filepath.Join(prefix, "etc", "resolv.conf")
		if b, err := env.ReadFile(path); err == nil {
			if s := parseResolvConf(b); len(s) > 0 {
				return Plan{Source: path, Servers: s}, nil
			}
		}
	}
	if configured = strings.TrimSpace(configured); configured != "" {
		ap, err := parseServer(configured)
		if err != nil {
			return Plan{}, err
		}
		return Plan{Source: "configured resolver", Servers: []netip.AddrPort{ap}}, nil
	}
	return Plan{}, nil
}

// Resolver returns the resolver kuguri should use for host names, following
// Nameservers: nil means "use Go's default" (either because it works, or
// because nothing better was found or configured was invalid — call
// Nameservers to tell which and warn). Otherwise it returns a pure-Go
// resolver whose Dial ignores the address Go asks for and dials the servers
// found, in order, moving to the next one when dialling fails or when a
// server does not answer (the next query then starts from the next server).
func Resolver(env Env, configured string) *net.Resolver {
	p, err := Nameservers(env, configured)
	if err != nil || p.System || len(p.Servers) == 0 {
		return nil
	}
	d := &dialer{servers: p.Servers}
	return &net.Resolver{PreferGo: true, Dial: d.dial}
}

// parseResolvConf returns the nameserver addresses of a resolv.conf, with
// port 53, in file order, without duplicates. Comments start with # or ;.
func parseResolvConf(b []byte) []netip.AddrPort {
	var out []netip.AddrPort
	seen := map[netip.AddrPort]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		ap := netip.AddrPortFrom(a.Unmap(), 53)
		if !seen[ap] {
			seen[ap] = true
			out = append(out, ap)
		}
	}
	return out
}

// parseServer parses a configured resolver: an IP, or IP:port.
func parseServer(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 53), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, fmt.Errorf("resolver %q: port 0", s)
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	return netip.AddrPort{}, fmt.Errorf("resolver %q: want an IP address with an optional port (a host name cannot be resolved without a resolver)", s)
}

// dialer dials a fixed list of DNS servers. Go's resolver calls it once per
// exchange with the address it would have used; that address is ignored.
type dialer struct {
	servers []netip.AddrPort // set at construction

	mu    sync.Mutex
	first int // guarded by mu: index of the server tried first
}

func (d *dialer) start() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.first
}

// failed moves the first choice past server i, unless another failure
// already moved it.
func (d *dialer) failed(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first == i {
		d.first = (i + 1) % len(d.servers)
	}
}

func (d *dialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var nd net.Dialer
	var errs []error
	start := d.start()
	for k := range d.servers {
		i := (start + k) % len(d.servers)
		c, err := nd.DialContext(ctx, network, d.servers[i].String())
		if err != nil {
			errs = append(errs, fmt.Errorf("dns server %s: %w", d.servers[i], err))
			d.failed(i)
			continue
		}
		// Go's resolver frames UDP and TCP differently and tells them apart
		// by net.PacketConn, so the wrapper must keep that shape.
		if uc, ok := c.(*net.UDPConn); ok {
			return &packetConn{UDPConn: uc, d: d, i: i}, nil
		}
		return &streamConn{Conn: c, d: d, i: i}, nil
	}
	return nil, errors.Join(errs...)
}

// packetConn notes a server that did not answer (timeout, ICMP refused) so
// the next exchange starts with the next server.
type packetConn struct {
	*net.UDPConn
	d *dialer
	i int
}

func (c *packetConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	if err != nil {
		c.d.failed(c.i)
	}
	return n, err
}

type streamConn struct {
	net.Conn
	d *dialer
	i int
}

func (c *streamConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.d.failed(c.i)
	}
	return n, err
}
