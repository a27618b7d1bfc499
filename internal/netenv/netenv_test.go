package netenv

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeEnv builds an Env from maps: unknown variables are "", unknown files
// do not exist.
func fakeEnv(goos string, vars map[string]string, files map[string]string) (Env, *[]string) {
	var read []string
	return Env{
		GOOS:   goos,
		Getenv: func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) {
			read = append(read, p)
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}, &read
}

const termuxResolvConf = `# Termux default
; also a comment
nameserver 8.8.8.8   # Google
nameserver	2001:4860:4860::8888
nameserver 8.8.8.8
nameserver not-an-ip
search example.net
#nameserver 9.9.9.9
`

func aps(ss ...string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range ss {
		out = append(out, netip.MustParseAddrPort(s))
	}
	return out
}

func TestNameservers(t *testing.T) {
	termuxFile := TermuxPrefix + "/etc/resolv.conf"
	for _, tc := range []struct {
		name       string
		goos       string
		vars       map[string]string
		files      map[string]string
		configured string
		want       Plan
		wantErr    string
	}{
		{
			name:  "system resolv.conf present",
			goos:  "linux",
			vars:  map[string]string{"PREFIX": "/p"},
			files: map[string]string{"/etc/resolv.conf": "nameserver 10.0.0.1\n", "/p/etc/resolv.conf": "nameserver 8.8.8.8\n"},
			want:  Plan{System: true},
		},
		{
			name: "OS with its own resolver",
			goos: "windows",
			want: Plan{System: true},
		},
		{
			name:  "Termux PREFIX file with two nameservers and comments",
			goos:  "android",
			vars:  map[string]string{"PREFIX": TermuxPrefix},
			files: map[string]string{termuxFile: termuxResolvConf},
			want:  Plan{Source: termuxFile, Servers: aps("8.8.8.8:53", "[2001:4860:4860::8888]:53")},
		},
		{
			name:  "android without PREFIX assumes Termux's prefix",
			goos:  "android",
			files: map[string]string{termuxFile: "nameserver 1.1.1.1\n"},
			want:  Plan{Source: termuxFile, Servers: aps("1.1.1.1:53")},
		},
		{
			name:  "system resolv.conf without nameservers is not enough",
			goos:  "linux",
			vars:  map[string]string{"PREFIX": "/p"},
			files: map[string]string{"/etc/resolv.conf": "# empty\n", "/p/etc/resolv.conf": "nameserver 1.1.1.1\n"},
			want:  Plan{Source: "/p/etc/resolv.conf", Servers: aps("1.1.1.1:53")},
		},
		{
			name:       "configured IP, default port",
			goos:       "android",
			configured: "9.9.9.9",
			want:       Plan{Source: "configured resolver", Servers: aps("9.9.9.9:53")},
		},
		{
			name:       "configured IP:port when the PREFIX file has no servers",
			goos:       "linux",
			vars:       map[string]string{"PREFIX": "/p"},
			files:      map[string]string{"/p/etc/resolv.conf": "search x\n"},
			configured: " 9.9.9.9:5353 ",
			want:       Plan{Source: "configured resolver", Servers: aps("9.9.9.9:5353")},
		},
		{
			name:       "configured bare IPv6",
			goos:       "linux",
			configured: "2620:fe::fe",
			want:       Plan{Source: "configured resolver", Servers: aps("[2620:fe::fe]:53")},
		},
		{
			name:       "configured bracketed IPv6 with port",
			goos:       "linux",
			configured: "[2620:fe::fe]:853",
			want:       Plan{Source: "configured resolver", Servers: aps("[2620:fe::fe]:853")},
		},
		{
			name:       "configured host name is refused",
			goos:       "linux",
			configured: "dns.quad9.net",
			wantErr:    `resolver "dns.quad9.net": want an IP address`,
		},
		{
			name:       "configured port 0 is refused",
			goos:       "linux",
			configured: "9.9.9.9:0",
			wantErr:    "port 0",
		},
		{
			name: "none",
			goos: "linux",
			want: Plan{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := fakeEnv(tc.goos, tc.vars, tc.files)
			got, err := Nameservers(env, tc.configured)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if r := Resolver(env, tc.configured); r != nil {
					t.Fatal("Resolver returned non-nil for an invalid configuration")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			r := Resolver(env, tc.configured)
			if wantNil := tc.want.System || len(tc.want.Servers) == 0; (r == nil) != wantNil {
				t.Fatalf("Resolver() = %v, want nil: %v", r, wantNil)
			}
			if r != nil && (!r.PreferGo || r.Dial == nil) {
				t.Fatalf("Resolver() = %+v, want PreferGo with a Dial", r)
			}
		})
	}
}

func TestNameserversOSDoesNotReadFiles(t *testing.T) {
	env, read := fakeEnv("darwin", nil, nil)
	if p, _ := Nameservers(env, ""); !p.System {
		t.Fatalf("got %+v, want System", p)
	}
	if len(*read) != 0 {
		t.Fatalf("read %q on darwin", *read)
	}
}

// fakeDNS answers A queries for vps.test with 192.0.2.7, NXDOMAIN for any
// other name, and an empty answer for other types. It is built by hand: the
// module does not depend on x/net.
type fakeDNS struct {
	pc      net.PacketConn
	queries atomic.Int64
}

var vpsTestIP = [4]byte{192, 0, 2, 7}

func startFakeDNS(t *testing.T) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeDNS{pc: pc}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.queries.Add(1)
			if resp := answer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return s
}

func (s *fakeDNS) Addr() netip.AddrPort {
	return s.pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// answer builds the response to a one-question query, or nil if q is not one.
func answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// Walk the question name (no compression in queries).
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	i++ // the root label
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	qend := i + 4
	name := strings.ToLower(strings.Join(labels, "."))

	resp := make([]byte, 12, 64)
	copy(resp[0:2], q[0:2])                                                       // ID
	flags := uint16(0x8000) | (binary.BigEndian.Uint16(q[2:4]) & 0x0100) | 0x0080 // QR, RD copied, RA
	var ancount uint16
	switch {
	case name != "vps.test":
		flags |= 3 // NXDOMAIN
	case qtype == 1:
		ancount = 1
	}
	binary.BigEndian.PutUint16(resp[2:4], flags)
	binary.BigEndian.PutUint16(resp[4:6], 1)
	binary.BigEndian.PutUint16(resp[6:8], ancount)
	resp = append(resp, q[12:qend]...) // the question, verbatim
	if ancount == 1 {
		resp = append(resp,
			0xc0, 12, // pointer to the question name
			0, 1, 0, 1, // type A, class IN
			0, 0, 0, 60, // TTL
			0, 4) // RDLENGTH
		resp = append(resp, vpsTestIP[:]...)
	}
	return resp
}

// The returned Resolver's Dial reaches the configured server whatever
// address Go's resolver asks for.
func TestResolverDialsConfiguredServer(t *testing.T) {
	dns := startFakeDNS(t)
	env, _ := fakeEnv("android", nil, nil)
	r := Resolver(env, dns.Addr().String())
	if r == nil {
		t.Fatal("Resolver returned nil")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip4", "vps.test.")
	if err != nil {
		t.Fatal(err)
	}
	if len(ips) != 1 || ips[0] != netip.AddrFrom4(vpsTestIP) {
		t.Fatalf("got %v, want [192.0.2.7]", ips)
	}
	if dns.queries.Load() == 0 {
		t.Fatal("the fake server saw no query")
	}

	// A name the server does not know is reported as not found.
	_, err = r.LookupNetIP(ctx, "ip4", "other.test.")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("err = %v, want a not-found DNSError", err)
	}
}

// The servers are dialled in order; a server that refuses (ICMP port
// unreachable on loopback) makes the next exchange go to the next server.
func TestResolverFallsBackToNextServer(t *testing.T) {
	dead := deadUDPPort(t)
	dns := startFakeDNS(t)
	d := &dialer{servers: []netip.AddrPort{dead, dns.Addr()}}
	r := &net.Resolver{PreferGo: true, Dial: d.dial}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip4", "vps.test.")
	if err != nil {
		// Go's resolver makes (servers x attempts) exchanges, read from
		// the host's resolv.conf: with "attempts:1" there is no second
		// exchange within this lookup, but the next lookup must succeed.
		t.Logf("first lookup: %v", err)
		ips, err = r.LookupNetIP(ctx, "ip4", "vps.test.")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(ips) != 1 || ips[0] != netip.AddrFrom4(vpsTestIP) {
		t.Fatalf("got %v", ips)
	}
	if d.start() != 1 {
		t.Fatalf("first server = %d, want 1 after the dead one failed", d.start())
	}
}

// deadUDPPort returns a loopback UDP address nobody listens on.
func deadUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return ap
}

// Dial itself falls through servers it cannot dial (here: an IPv6 zone that
// does not exist) to the next one.
func TestDialSkipsUndialableServer(t *testing.T) {
	dns := startFakeDNS(t)
	bad := netip.AddrPortFrom(netip.MustParseAddr("fe80::1%kuguri-no-such-if"), 53)
	d := &dialer{servers: []netip.AddrPort{bad, dns.Addr()}}
	c, err := d.dial(context.Background(), "udp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().(*net.UDPAddr).AddrPort(); got != dns.Addr() {
		t.Fatalf("dialled %v, want %v", got, dns.Addr())
	}
	if _, ok := c.(net.PacketConn); !ok {
		t.Fatal("UDP conn does not implement net.PacketConn: Go's resolver would use TCP framing")
	}

	d = &dialer{servers: []netip.AddrPort{bad}}
	if _, err := d.dial(context.Background(), "udp", "x"); err == nil || !strings.Contains(err.Error(), "dns server [fe80::1%kuguri-no-such-if]:53") {
		t.Fatalf("err = %v, want it to name the server", err)
	}
}

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHome(t *testing.T) {
	h, err := Home(getenvFrom(map[string]string{"HOME": "/data/data/com.termux/files/home"}))
	if err != nil || h != "/data/data/com.termux/files/home" {
		t.Fatalf("Home = %q, %v", h, err)
	}
	// Without $HOME in the given environment, os.UserHomeDir decides.
	want, wantErr := os.UserHomeDir()
	h, err = Home(getenvFrom(nil))
	if (err != nil) != (wantErr != nil) || (err == nil && h != want) {
		t.Fatalf("Home = %q, %v; want %q, %v", h, err, want, wantErr)
	}
}

func TestUserName(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"USER": "u0_a123", "LOGNAME": "other"}, "u0_a123"},
		{map[string]string{"LOGNAME": "alice"}, "alice"},
		{nil, ""},
	} {
		if got := UserName(getenvFrom(tc.vars)); got != tc.want {
			t.Errorf("UserName(%v) = %q, want %q", tc.vars, got, tc.want)
		}
	}
}

func TestRuntimeDir(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "TMPDIR": "/t", "HOME": "/h"}, "/run/user/1000"},
		{map[string]string{"TMPDIR": "/data/data/com.termux/files/usr/tmp", "HOME": "/h"}, "/data/data/com.termux/files/usr/tmp"},
		{map[string]string{"XDG_RUNTIME_DIR": "relative", "TMPDIR": "/t"}, "/t"},
		{map[string]string{"HOME": "/h"}, filepath.Join("/h", ".local", "state", "kuguri")},
	} {
		if got := RuntimeDir(getenvFrom(tc.vars)); got != tc.want {
			t.Errorf("RuntimeDir(%v) = %q, want %q", tc.vars, got, tc.want)
		}
	}
}

func TestStateDir(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, filepath.Join("/s", "kuguri")},
		{map[string]string{"XDG_STATE_HOME": "rel", "HOME": "/h"}, filepath.Join("/h", ".local", "state", "kuguri")},
		{map[string]string{"HOME": "/h"}, filepath.Join("/h", ".local", "state", "kuguri")},
	} {
		if got := StateDir(getenvFrom(tc.vars)); got != tc.want {
			t.Errorf("StateDir(%v) = %q, want %q", tc.vars, got, tc.want)
		}
	}
}
