package profile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseForwardSpec(f *testing.F) {
	for _, s := range []string{"8080:127.0.0.1:8080", "127.0.0.1:8080:host:80", "[::1]:8080:[fe80::1]:80", "*:8080:h:80", "0:h:1", "[:::", "a:b:c:d", "::::", "[fe80::1%eth0]:1:h:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fw, err := ParseForwardSpec(s)
		if err != nil {
			return
		}
		if fw.Type != Local || fw.Local == "" || fw.Remote == "" || !validForwardName(fw.Name) {
			t.Fatalf("ParseForwardSpec(%q) = %+v", s, fw)
		}
		// Normalized forms are stable: parsing the spec again gives the same.
		again, err := ParseForwardSpec(fw.Spec())
		if err != nil || again != fw {
			t.Fatalf("ParseForwardSpec(%q) = %+v; re-parse of %q = %+v, %v", s, fw, fw.Spec(), again, err)
		}
	})
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("profiles:\n  vps:\n    host: vps.example.net\n    forwards: [\"8080:127.0.0.1:8080\"]\n"))
	f.Add([]byte("defaults: {keepalive_interval: 5, reconnect: {initial: 1s, max: 2s}}\nprofiles: {a: {host: a, jump: [b]}, b: {host: b, jump: a}}\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\n"))
	f.Add([]byte("profiles:\n  x: &x {host: h, forwards: [{name: n, local: 1, remote: 2}]}\n  y:\n    <<: *x\n    forwards: []\n"))
	f.Add([]byte("{"))
	f.Add([]byte(""))
	e := &testEnv{home: f.TempDir(), env: map[string]string{"USER": "fuzz"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load("fuzz.yaml", data, e.opts("fuzz.yaml", ""), e.getenv, e.home)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("error %v is neither ErrInvalid nor ErrNotFound", err)
			}
			if strings.Contains(err.Error(), "%!") && !strings.Contains(string(data), "%!") {
				t.Fatalf("badly formatted error: %v", err)
			}
			return
		}
		for _, n := range c.Names() {
			r, err := c.Resolve(n)
			if err != nil {
				t.Fatalf("loaded config does not resolve %q: %v", n, err)
			}
			_ = ShellJoin(r.SSHCommand())
		}
	})
}

// A "billion laughs" document: nine levels of ten aliases each. It must be
// refused (or read) without expanding it in memory.
func TestBillionLaughs(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i <= 9; i++ {
		p := "*a" + string(rune('0'+i-1))
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(p+",", 9) + p + "]\n")
	}
	// Forwards and merge keys are where aliases are followed.
	var m strings.Builder
	m.WriteString("profiles:\n  m0: &m0 {host: h}\n")
	for i := 1; i <= 40; i++ {
		m.WriteString("  m" + itoa(i) + ": &m" + itoa(i) + " {<<: [*m" + itoa(i-1) + ", *m" + itoa(i-1) + "]}\n")
	}
	e := newTestEnv(t)
	_, err := load("merge.yaml", []byte(m.String()), e.opts("merge.yaml", ""), e.getenv, e.home)
	if want := "merge.yaml:"; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), ": document expands to too many nodes (aliases or merge keys nested too deep)") {
		t.Errorf("merge bomb: err = %v", err)
	}
	for _, doc := range []string{
		b.String(),
		b.String() + "profiles:\n  p:\n    host: h\n    forwards: *a9\n    identity_files: *a9\n    jump: *a9\n",
		m.String(),
	} {
		e := newTestEnv(t)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := load("laughs.yaml", []byte(doc), e.opts("laughs.yaml", ""), e.getenv, e.home)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("billion-laughs document accepted")
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
			t.Errorf("decoding allocated %d MiB", grew>>20)
		}
		if len(err.Error()) > 64<<10 {
			t.Errorf("error text is %d bytes", len(err.Error()))
		}
		t.Logf("refused: %.200s", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// FuzzSSHConfigResolve feeds arbitrary ssh_config text under a fixed set of
// profiles (a direct host, an alias, a jump through another alias): Load and
// Resolve never panic, every error matches ErrInvalid, and a resolved chain
// is well formed (ports in range, a host name on every hop, bounded depth).
func FuzzSSHConfigResolve(f *testing.F) {
	for _, s := range []string{
		"Host vps\n  HostName vps.example.net\n  Port 22022\n  User alice\n  IdentityFile ~/.ssh/id_%h_%r\n",
		"Host vps\n  ProxyJump bastion\nHost bastion\n  HostName b.example\n  Port 2222\n",
		"Host vps\n  ProxyJump ssh://u@b:2222,c\nHost c\n  ProxyJump none\n",
		"Host vps\n  ProxyJump vps\n",
		"Host *\n  Port 0\n",
		"Host vps\n  ProxyCommand nc %h %p\n  HostKeyAlias alias\n  UserKnownHostsFile ~/kh1 ~/kh2\n",
		"Match exec \"true\"\n  Port 1\nHost vps\n  Port 2\n",
		"Include ~/.ssh/config.d/*\nHost vps\n  ServerAliveInterval 5\n  ServerAliveCountMax x\n",
		"Host vps\n  ConnectTimeout -1\n  StrictHostKeyChecking maybe\n",
		"\x00\xff Host\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sshText string) {
		e := &testEnv{home: t.TempDir(), env: map[string]string{"USER": "fuzz"}}
		sshPath := filepath.Join(e.home, "ssh_config")
		if err := os.WriteFile(sshPath, []byte(sshText), 0o600); err != nil {
			t.Fatal(err)
		}
		yaml := []byte("profiles:\n  direct: {host: d.example, port: 2200}\n  alias: {host: vps}\n  jumped: {host: vps, jump: [bastion]}\n  chained: {host: alias}\n")
		c, err := load("fuzz.yaml", yaml, e.opts("fuzz.yaml", sshPath), e.getenv, e.home)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("load error %v is not ErrInvalid", err)
			}
			return
		}
		for _, n := range c.Names() {
			r, err := c.Resolve(n)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Resolve(%s) error %v is not ErrInvalid", n, err)
				}
				continue
			}
			if len(r.Hops) == 0 || len(r.Hops) > maxHops {
				t.Fatalf("Resolve(%s): %d hops", n, len(r.Hops))
			}
			for i, h := range r.Hops {
				if h.HostName == "" || h.Port < 1 || h.Port > 65535 {
					t.Fatalf("Resolve(%s): hop %d = %+v", n, i+1, h)
				}
			}
			_ = ShellJoin(r.SSHCommand())
		}
	})
}
