package hostkeys

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kuguri/kuguri/tunnel/api"
)

func edKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ecKey(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rsaKey(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// khLine formats a known_hosts line.
func khLine(hosts string, key ssh.PublicKey) string {
	return hosts + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// prompter answers host-key questions with a fixed decision and records them.
type prompter struct {
	mu        sync.Mutex
	decision  api.HostKeyDecision
	err       error
	questions []api.HostKeyQuestion
}

func (p *prompter) HostKey(_ context.Context, q api.HostKeyQuestion) (api.HostKeyDecision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.questions = append(p.questions, q)
	return p.decision, p.err
}

func (p *prompter) Passphrase(context.Context, api.PassphraseQuestion) ([]byte, error) {
	return nil, errors.New("unexpected passphrase question")
}

func (p *prompter) KeyboardInteractive(context.Context, api.KeyboardInteractiveQuestion) ([]string, error) {
	return nil, errors.New("unexpected keyboard-interactive question")
}

func (p *prompter) asked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.questions)
}

var _ api.Prompter = (*prompter)(nil)

func newChecker(t *testing.T, cfg Config) *Checker {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func check(c *Checker, addr string, key ssh.PublicKey) error {
	return c.Callback()(addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, key)
}

func wantUnknown(t *testing.T, err error) *UnknownKeyError {
	t.Helper()
	var u *UnknownKeyError
	if !errors.As(err, &u) {
		t.Fatalf("want *UnknownKeyError, got %T %v", err, err)
	}
	if !errors.Is(err, api.ErrHostKey) || api.KindOf(err) != api.KindHostKey {
		t.Fatalf("unknown-key error does not wrap api.ErrHostKey: %v", err)
	}
	return u
}

func TestPlainAndPorts(t *testing.T) {
	dir := t.TempDir()
	k22, k2222, kOther := edKey(t), edKey(t), edKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, khLine("Example.COM,127.0.0.1", k22.PublicKey())+"\n"+
		khLine("[127.0.0.1]:2222", k2222.PublicKey())+" a comment\n")
	c := newChecker(t, Config{Files: []string{filepath.Join(dir, "missing"), kh}, Strict: "yes"})

	for _, tc := range []struct {
		addr string
		key  ssh.PublicKey
		ok   bool
	}{
		{"127.0.0.1:22", k22.PublicKey(), true},
		{"example.com:22", k22.PublicKey(), true}, // case-insensitive
		{"127.0.0.1:2222", k2222.PublicKey(), true},
		{"127.0.0.1:2223", k2222.PublicKey(), false}, // other port: unknown
		{"127.0.0.2:22", kOther.PublicKey(), false},
	} {
		err := check(c, tc.addr, tc.key)
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.addr, err)
		}
		if !tc.ok {
			u := wantUnknown(t, err)
			if u.Reason != "StrictHostKeyChecking is yes" {
				t.Errorf("%s: reason %q", tc.addr, u.Reason)
			}
		}
	}
}

func TestGarbageLinesSkipped(t *testing.T) {
	dir := t.TempDir()
	good, bad := edKey(t), edKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, strings.Join([]string{
		"# a comment",
		"complete garbage",
		"host ssh-ed25519 !!!notbase64!!!",
		"@bogus-marker host " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(good.PublicKey()))),
		"host ssh-ed25519",
		"",
		"\x00\x01\x02 binary junk \xff",
		"host ssh-rsa " + strings.Fields(string(ssh.MarshalAuthorizedKey(good.PublicKey())))[1], // type mismatch
		khLine("[127.0.0.1]:2200", good.PublicKey()),
	}, "\r\n"))
	c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	if err := check(c, "127.0.0.1:2200", good.PublicKey()); err != nil {
		t.Fatalf("good line after garbage: %v", err)
	}
	err := check(c, "127.0.0.1:2200", bad.PublicKey())
	var ch *ChangedKeyError
	if !errors.As(err, &ch) {
		t.Fatalf("want changed, got %v", err)
	}
	if want := []Line{{kh, 9}}; !slices.Equal(ch.Known, want) {
		t.Errorf("Known = %v, want %v (line numbers count garbage lines)", ch.Known, want)
	}
	// The bogus-marker line is not a key for "host".
	if err := check(c, "host:22", good.PublicKey()); err == nil {
		t.Error("a line with an unknown marker was used")
	}
}

func TestHashedAndPatterns(t *testing.T) {
	dir := t.TempDir()
	k1, k2, k3 := edKey(t), edKey(t), edKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, strings.Join([]string{
		khLine(knownhosts.HashHostname("[127.0.0.1]:2222"), k1.PublicKey()),
		khLine(knownhosts.HashHostname("vps.example.net"), k2.PublicKey()),
		khLine("*.lan,!evil.lan,host?.test", k3.PublicKey()),
	}, "\n")+"\n")
	c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	for _, tc := range []struct {
		addr string
		key  ssh.Signer
		ok   bool
	}{
		{"127.0.0.1:2222", k1, true},
		{"127.0.0.1:22", k1, false},
		{"vps.example.net:22", k2, true},
		{"VPS.example.net:22", k2, true},
		{"vps.example.net:2222", k2, false},
		{"box.lan:22", k3, true},
		{"evil.lan:22", k3, false},
		{"host1.test:22", k3, true},
		{"host12.test:22", k3, false},
	} {
		err := check(c, tc.addr, tc.key.PublicKey())
		if tc.ok != (err == nil) {
			t.Errorf("%s: ok=%v, err=%v", tc.addr, tc.ok, err)
		}
	}
}

func TestAlias(t *testing.T) {
	dir := t.TempDir()
	k := edKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, khLine("myalias", k.PublicKey())+"\n")
	c := newChecker(t, Config{Files: []string{kh}, Strict: "yes", HostKeyAlias: "myalias"})
	if err := check(c, "127.0.0.1:2222", k.PublicKey()); err != nil {
		t.Fatalf("alias lookup: %v", err)
	}
	if got := c.HostKeyAlgorithms("127.0.0.1:2222"); !slices.Equal(got, []string{ssh.KeyAlgoED25519}) {
		t.Errorf("HostKeyAlgorithms via alias = %v", got)
	}
	noAlias := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	wantUnknown(t, check(noAlias, "127.0.0.1:2222", k.PublicKey()))

	// Saving under an alias writes the alias, not host:port.
	k2 := edKey(t)
	p := &prompter{decision: api.AcceptAndSave}
	c2 := newChecker(t, Config{Files: []string{kh}, HostKeyAlias: "other", Prompter: p})
	if err := check(c2, "127.0.0.1:2222", k2.PublicKey()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, kh)), "\n")
	if got, want := lines[len(lines)-1], khLine("other", k2.PublicKey()); got != want {
		t.Errorf("saved line %q, want %q", got, want)
	}
}

// hostCert certifies hostKey for principals, signed by ca.
func hostCert(t *testing.T, ca ssh.Signer, hostKey ssh.PublicKey, principals []string, before time.Time) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{
		Key:             hostKey,
		Serial:          1,
		CertType:        ssh.HostCert,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     uint64(before.Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCertAuthority(t *testing.T) {
	dir := t.TempDir()
	ca, otherCA, host := edKey(t), edKey(t), ecKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, "@cert-authority *.example.net,127.0.0.1 "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))+"\n")
	c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	later := time.Now().Add(time.Hour)

	good := hostCert(t, ca, host.PublicKey(), []string{"127.0.0.1"}, later)
	if err := check(c, "127.0.0.1:22", good); err != nil {
		t.Fatalf("valid host cert: %v", err)
	}
	// The CA line names hosts, not ports: a non-22 port is looked up as
	// "[127.0.0.1]:2222", which does not match the pattern.
	wantUnknown(t, check(c, "127.0.0.1:2222", good))

	algos := c.HostKeyAlgorithms("127.0.0.1:22")
	if len(algos) == 0 || algos[0] != ssh.CertAlgoED25519v01 || !slices.Contains(algos, ssh.CertAlgoRSASHA512v01) {
		t.Errorf("HostKeyAlgorithms with a CA = %v, want cert algorithms first", algos)
	}
	if !slices.Contains(algos, ssh.KeyAlgoECDSA256) {
		t.Errorf("HostKeyAlgorithms with only a CA known should fall back to plain algorithms: %v", algos)
	}

	for name, cert := range map[string]*ssh.Certificate{
		"wrong principal": hostCert(t, ca, host.PublicKey(), []string{"other.example.net"}, later),
		"expired":         hostCert(t, ca, host.PublicKey(), []string{"127.0.0.1"}, time.Now().Add(-time.Minute)),
		"other CA":        hostCert(t, otherCA, host.PublicKey(), []string{"127.0.0.1"}, later),
	} {
		u := wantUnknown(t, check(c, "127.0.0.1:22", cert))
		if !strings.Contains(u.Detail, "certificate was not accepted") {
			t.Errorf("%s: detail %q", name, u.Detail)
		}
		if u.Fingerprint != ssh.FingerprintSHA256(host.PublicKey()) {
			t.Errorf("%s: fingerprint %s is not the certified key's", name, u.Fingerprint)
		}
	}

	// With an alias the certificate must name the alias.
	ca2 := newChecker(t, Config{Files: []string{kh}, Strict: "yes", HostKeyAlias: "box.example.net"})
	if err := check(ca2, "127.0.0.1:2222", hostCert(t, ca, host.PublicKey(), []string{"box.example.net"}, later)); err != nil {
		t.Errorf("alias cert: %v", err)
	}
	wantUnknown(t, check(ca2, "127.0.0.1:2222", good))
}

// serveOnce runs an in-process x/crypto SSH server presenting hostKeys that
// accepts any client, for one connection.
func serveOnce(t *testing.T, hostKeys ...ssh.Signer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	for _, k := range hostKeys {
		cfg.AddHostKey(k)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		for ch := range chans {
			ch.Reject(ssh.Prohibited, "no")
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func dial(t *testing.T, c *Checker, addr string, algos []string) error {
	t.Helper()
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:              "u",
		HostKeyCallback:   c.Callback(),
		HostKeyAlgorithms: algos,
		Timeout:           10 * time.Second,
	})
	if err == nil {
		client.Close()
	}
	return err
}

func TestCertAuthorityHandshake(t *testing.T) {
	dir := t.TempDir()
	ca, host := edKey(t), edKey(t)
	cert := hostCert(t, ca, host.PublicKey(), []string{"127.0.0.1"}, time.Now().Add(time.Hour))
	certSigner, err := ssh.NewCertSigner(cert, host)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOnce(t, certSigner)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, "@cert-authority 127.0.0.1,[127.0.0.1]:* "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))+"\n")
	c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	if err := dial(t, c, addr, c.HostKeyAlgorithms(addr)); err != nil {
		t.Fatalf("handshake with a CA-signed host certificate: %v", err)
	}
}

func TestRevoked(t *testing.T) {
	dir := t.TempDir()
	k, ca, host := edKey(t), edKey(t), edKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, strings.Join([]string{
		khLine("127.0.0.1", k.PublicKey()),
		"@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.PublicKey()))),
		"@cert-authority * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey()))),
		"@revoked 127.0.0.1 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey()))),
	}, "\n")+"\n")
	p := &prompter{decision: api.AcceptAndSave}
	c := newChecker(t, Config{Files: []string{kh}, Prompter: p})

	err := check(c, "127.0.0.1:22", k.PublicKey())
	var r *RevokedKeyError
	if !errors.As(err, &r) || !errors.Is(err, api.ErrHostKey) {
		t.Fatalf("want revoked, got %v", err)
	}
	if !slices.Equal(r.Known, []Line{{kh, 2}}) || !strings.Contains(err.Error(), "REVOKED") {
		t.Errorf("revoked error: %v (Known %v)", err, r.Known)
	}
	// A certificate signed by a revoked CA is refused too, not asked about.
	cert := hostCert(t, ca, host.PublicKey(), []string{"127.0.0.1"}, time.Now().Add(time.Hour))
	if err := check(c, "127.0.0.1:22", cert); !errors.As(err, &r) || !slices.Equal(r.Known, []Line{{kh, 4}}) {
		t.Fatalf("cert by revoked CA: %v", err)
	}
	if p.asked() != 0 {
		t.Errorf("prompter asked about a revoked key")
	}
}

func TestChanged(t *testing.T) {
	dir := t.TempDir()
	old, newKey, otherType := edKey(t), edKey(t), ecKey(t)
	kh1 := filepath.Join(dir, "kh1")
	kh2 := filepath.Join(dir, "kh2")
	writeFile(t, kh1, "# mine\n"+khLine("other", old.PublicKey())+"\n"+khLine("[127.0.0.1]:22022", old.PublicKey())+"\n")
	writeFile(t, kh2, khLine("[127.0.0.1]:22022", otherType.PublicKey())+"\n")
	p := &prompter{decision: api.AcceptAndSave}
	c := newChecker(t, Config{Profile: "vps", Hop: 2, HopName: "vps", Files: []string{kh1, kh2}, Prompter: p, Strict: "no"})
	before1, before2 := readFile(t, kh1), readFile(t, kh2)

	err := check(c, "127.0.0.1:22022", newKey.PublicKey())
	var ch *ChangedKeyError
	if !errors.As(err, &ch) || !errors.Is(err, api.ErrHostKey) {
		t.Fatalf("want changed, got %T %v", err, err)
	}
	want := ChangedKeyError{Profile: "vps", Hop: 2, HopName: "vps", Addr: "127.0.0.1:22022", Host: "[127.0.0.1]:22022",
		KeyType: "ssh-ed25519", Fingerprint: ssh.FingerprintSHA256(newKey.PublicKey()), Known: []Line{{kh1, 3}}}
	if fmt.Sprint(*ch) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", *ch, want)
	}
	msg := err.Error()
	for _, s := range []string{"hop 2 (vps 127.0.0.1:22022)", "host key for [127.0.0.1]:22022 has CHANGED", want.Fingerprint, kh1 + ":3", "this may be an attack"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q lacks %q", msg, s)
		}
	}
	if p.asked() != 0 {
		t.Error("prompter asked about a changed key")
	}
	if readFile(t, kh1) != before1 || readFile(t, kh2) != before2 {
		t.Error("known_hosts modified on a changed key")
	}
	// The known ed25519 and ecdsa keys both still pass.
	if err := check(c, "127.0.0.1:22022", old.PublicKey()); err != nil {
		t.Error(err)
	}
	if err := check(c, "127.0.0.1:22022", otherType.PublicKey()); err != nil {
		t.Error(err)
	}
}

func TestOtherTypeIsUnknownNotChanged(t *testing.T) {
	dir := t.TempDir()
	known, presented := edKey(t), ecKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, khLine("[127.0.0.1]:2222", known.PublicKey())+"\n")
	c := newChecker(t, Config{Files: []string{kh}})
	u := wantUnknown(t, check(c, "127.0.0.1:2222", presented.PublicKey()))
	if !strings.Contains(u.Detail, "ssh-ed25519") {
		t.Errorf("detail %q should name the known type", u.Detail)
	}
	if got := c.HostKeyAlgorithms("127.0.0.1:2222"); !slices.Equal(got, []string{ssh.KeyAlgoED25519}) {
		t.Errorf("HostKeyAlgorithms = %v", got)
	}
}

func TestHostKeyAlgorithms(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	rk, ek, ed := rsaKey(t), ecKey(t), edKey(t)
	writeFile(t, kh, strings.Join([]string{
		khLine("rsa.host", rk.PublicKey()),
		khLine("two.host", ek.PublicKey()),
		khLine("two.host", ed.PublicKey()),
		"@revoked two.host " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rk.PublicKey()))),
	}, "\n")+"\n")
	c := newChecker(t, Config{Files: []string{kh}})
	if got := c.HostKeyAlgorithms("unknown.host:22"); got != nil {
		t.Errorf("unknown host: %v, want nil", got)
	}
	if got, want := c.HostKeyAlgorithms("rsa.host:22"), []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}; !slices.Equal(got, want) {
		t.Errorf("rsa host: %v, want %v", got, want)
	}
	if got, want := c.HostKeyAlgorithms("two.host:22"), []string{"ecdsa-sha2-nistp256", "ssh-ed25519"}; !slices.Equal(got, want) {
		t.Errorf("two keys: %v, want %v", got, want)
	}
}

func TestUnknownRefusedHeadless(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	k := edKey(t)
	for name, cfg := range map[string]Config{
		"nil prompter":    {Strict: "ask"},
		"headless":        {Strict: "accept-new", Prompter: api.Headless{}},
		"strict yes":      {Strict: "yes", Prompter: &prompter{decision: api.AcceptAndSave}},
		"prompter errors": {Strict: "ask", Prompter: &prompter{err: api.ErrNoPrompter}},
		"rejected":        {Strict: "ask", Prompter: &prompter{decision: api.Reject}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Profile, cfg.Hop, cfg.HopName, cfg.Files = "vps", 1, "vps", []string{kh}
			c := newChecker(t, cfg)
			err := check(c, "127.0.0.1:2222", k.PublicKey())
			wantUnknown(t, err)
			for _, s := range []string{ssh.FingerprintSHA256(k.PublicKey()), `run "kuguri trust vps"`, "hop 1 (vps 127.0.0.1:2222)"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
			if p, ok := cfg.Prompter.(*prompter); ok && name == "strict yes" && p.asked() != 0 {
				t.Error("prompter asked with StrictHostKeyChecking=yes")
			}
			if _, err := os.Stat(kh); !os.IsNotExist(err) {
				t.Error("known_hosts written for a refused key")
			}
		})
	}
}

func TestAcceptAndSave(t *testing.T) {
	for _, hash := range []bool{false, true} {
		t.Run(fmt.Sprintf("hash=%v", hash), func(t *testing.T) {
			dir := t.TempDir()
			kh := filepath.Join(dir, "known_hosts")
			existing := khLine("a.host", edKey(t).PublicKey()) + "\n" + "garbage line kept as is\n" + khLine(knownhosts.HashHostname("b.host"), ecKey(t).PublicKey()) + "\n"
			writeFile(t, kh, existing)
			p := &prompter{decision: api.AcceptAndSave}
			k := edKey(t)
			c := newChecker(t, Config{Profile: "p", Hop: 1, HopName: "h", Files: []string{kh}, Prompter: p, Hash: hash})
			if err := check(c, "127.0.0.1:2222", k.PublicKey()); err != nil {
				t.Fatal(err)
			}
			if p.asked() != 1 {
				t.Fatalf("asked %d times", p.asked())
			}
			q := p.questions[0]
			if q.Fingerprint != ssh.FingerprintSHA256(k.PublicKey()) || q.KnownHostsFile != kh || q.Addr != "127.0.0.1:2222" || q.KeyType != "ssh-ed25519" || q.Hop != 1 {
				t.Errorf("question %+v", q)
			}
			after := readFile(t, kh)
			if !strings.HasPrefix(after, existing) {
				t.Fatalf("existing lines changed:\n%s", after)
			}
			added := strings.TrimPrefix(after, existing)
			if strings.Count(added, "\n") != 1 || !strings.HasSuffix(added, "\n") {
				t.Fatalf("added %q, want exactly one line", added)
			}
			if hash {
				if !strings.HasPrefix(added, "|1|") || strings.Contains(added, "127.0.0.1") {
					t.Errorf("hashed line %q", added)
				}
			} else if added != khLine("[127.0.0.1]:2222", k.PublicKey())+"\n" {
				t.Errorf("line %q", added)
			}
			// Remembered in memory: not asked again.
			if err := check(c, "127.0.0.1:2222", k.PublicKey()); err != nil || p.asked() != 1 {
				t.Errorf("second check: %v, asked %d", err, p.asked())
			}
			// A fresh checker finds it in the file.
			fresh := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
			if err := check(fresh, "127.0.0.1:2222", k.PublicKey()); err != nil {
				t.Errorf("saved key not found by a new checker: %v", err)
			}
		})
	}
}

func TestAcceptAndSavePort22AndNewFile(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "new", ".ssh", "known_hosts")
	p := &prompter{decision: api.AcceptAndSave}
	k := edKey(t)
	c := newChecker(t, Config{Files: []string{kh}, Prompter: p})
	if err := check(c, "127.0.0.1:22", k.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, kh), khLine("127.0.0.1", k.PublicKey())+"\n"; got != want {
		t.Errorf("file %q, want %q", got, want)
	}
	st, err := os.Stat(kh)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v %v", st.Mode(), err)
	}
	st, err = os.Stat(filepath.Dir(kh))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v %v", st.Mode(), err)
	}
}

func TestAppendAfterMissingNewline(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	a, b := edKey(t), edKey(t)
	writeFile(t, kh, khLine("a.host", a.PublicKey())) // no trailing newline
	if err := AppendLine(kh, []string{"b.host"}, b.PublicKey(), false); err != nil {
		t.Fatal(err)
	}
	c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	if check(c, "a.host:22", a.PublicKey()) != nil || check(c, "b.host:22", b.PublicKey()) != nil {
		t.Errorf("lines glued together:\n%s", readFile(t, kh))
	}
}

func TestAcceptOnce(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	existing := khLine("a.host", edKey(t).PublicKey()) + "\n"
	writeFile(t, kh, existing)
	p := &prompter{decision: api.AcceptOnce}
	k := edKey(t)
	c := newChecker(t, Config{Files: []string{kh}, Prompter: p})
	for range 2 {
		if err := check(c, "127.0.0.1:2222", k.PublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	if p.asked() != 1 {
		t.Errorf("asked %d times, want 1", p.asked())
	}
	if readFile(t, kh) != existing {
		t.Error("accept-once wrote known_hosts")
	}
	fresh := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
	wantUnknown(t, check(fresh, "127.0.0.1:2222", k.PublicKey()))
	// A different key for the same host after accept-once is a change.
	var ch *ChangedKeyError
	if err := check(c, "127.0.0.1:2222", edKey(t).PublicKey()); !errors.As(err, &ch) {
		t.Errorf("different key after accept-once: %v", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	for _, hash := range []bool{false, true} {
		dir := t.TempDir()
		kh := filepath.Join(dir, "known_hosts")
		const n = 40
		keys := make([]ssh.Signer, n)
		for i := range keys {
			keys[i] = edKey(t)
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- AppendLine(kh, []string{fmt.Sprintf("[host%d.example]:2222", i)}, keys[i].PublicKey(), hash)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		data := readFile(t, kh)
		if got := strings.Count(data, "\n"); got != n {
			t.Fatalf("hash=%v: %d lines, want %d", hash, got, n)
		}
		es, bad := parseKnownHosts(kh, []byte(data))
		if bad != 0 || len(es) != n {
			t.Fatalf("hash=%v: %d entries, %d bad", hash, len(es), bad)
		}
		c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
		for i := range n {
			if err := check(c, fmt.Sprintf("host%d.example:2222", i), keys[i].PublicKey()); err != nil {
				t.Errorf("hash=%v key %d: %v", hash, i, err)
			}
		}
	}
}

func TestConcurrentPromptsAskOnce(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	p := &prompter{decision: api.AcceptAndSave}
	k := edKey(t)
	c := newChecker(t, Config{Files: []string{kh}, Prompter: p})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := check(c, "127.0.0.1:2222", k.PublicKey()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p.asked() != 1 {
		t.Errorf("asked %d times", p.asked())
	}
	if n := strings.Count(readFile(t, kh), "\n"); n != 1 {
		t.Errorf("%d lines written", n)
	}
}

func TestUnreadableFileIsError(t *testing.T) {
	dir := t.TempDir()
	_, err := New(Config{Files: []string{dir}}) // a directory
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("want an error naming %s, got %v", dir, err)
	}
}

func TestFingerprint(t *testing.T) {
	k := edKey(t)
	if got := Fingerprint(k.PublicKey()); !strings.HasPrefix(got, "SHA256:") || got != ssh.FingerprintSHA256(k.PublicKey()) {
		t.Errorf("Fingerprint = %q", got)
	}
	cert := hostCert(t, edKey(t), k.PublicKey(), []string{"x"}, time.Now().Add(time.Hour))
	if Fingerprint(cert) != Fingerprint(k.PublicKey()) {
		t.Error("certificate fingerprint is not the certified key's")
	}
}

func TestInMemoryTypeTrap(t *testing.T) {
	// An in-process server with ecdsa and ed25519 host keys; known_hosts
	// holds only the ed25519 one. x/crypto's default order prefers ecdsa.
	dir := t.TempDir()
	ed, ec := edKey(t), ecKey(t)
	kh := filepath.Join(dir, "known_hosts")
	for _, useAlgos := range []bool{true, false} {
		addr := serveOnce(t, ec, ed)
		writeFile(t, kh, khLine(knownhosts.Normalize(addr), ed.PublicKey())+"\n")
		c := newChecker(t, Config{Files: []string{kh}, Strict: "yes"})
		var algos []string
		if useAlgos {
			algos = c.HostKeyAlgorithms(addr)
		}
		err := dial(t, c, addr, algos)
		if useAlgos && err != nil {
			t.Fatalf("with HostKeyAlgorithms: %v", err)
		}
		if !useAlgos {
			// Without it the server presents ecdsa: unknown, never "changed".
			var ch *ChangedKeyError
			if err == nil || errors.As(err, &ch) || !errors.Is(err, api.ErrHostKey) {
				t.Fatalf("without HostKeyAlgorithms: %v", err)
			}
		}
	}
}
