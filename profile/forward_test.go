package profile

import (
	"strings"
	"testing"
)

func TestParseForwardSpec(t *testing.T) {
	tests := []struct {
		in                string
		local, remote     string
		name              string
		err               string // substring; "" = must succeed
		nonLoopbackListen bool
	}{
		{in: "8080:127.0.0.1:8080", local: "127.0.0.1:8080", remote: "127.0.0.1:8080", name: "L8080"},
		{in: " 5432:db.internal:5432 ", local: "127.0.0.1:5432", remote: "db.internal:5432", name: "L5432"},
		{in: "127.0.0.1:8080:host:80", local: "127.0.0.1:8080", remote: "host:80", name: "L8080"},
		{in: "[::1]:8080:[fe80::1]:80", local: "[::1]:8080", remote: "[fe80::1]:80", name: "L8080"},
		{in: "localhost:8080:h:80", local: "localhost:8080", remote: "h:80", name: "L8080"},
		{in: "*:8080:h:80", local: ":8080", remote: "h:80", name: "L8080", nonLoopbackListen: true},
		{in: ":8080:h:80", local: ":8080", remote: "h:80", name: "L8080", nonLoopbackListen: true},
		{in: "0.0.0.0:8080:h:80", local: "0.0.0.0:8080", remote: "h:80", name: "L8080", nonLoopbackListen: true},
		{in: "0:10.0.0.5:3389", local: "127.0.0.1:0", remote: "10.0.0.5:3389", name: "L0"},
		{in: "13389:10.0.0.5:3389", local: "127.0.0.1:13389", remote: "10.0.0.5:3389", name: "L13389"},
		{in: "70000:h:80", err: "port 70000 out of range"},
		{in: "8080:h:0", err: "port 0 out of range"},
		{in: "8080:h:99999", err: "port 99999 out of range"},
		{in: "8080:h", err: "want [bind_address:]port:host:hostport"},
		{in: "a:b:c:d:e", err: "want [bind_address:]port:host:hostport"},
		{in: "x:h:80", err: `bad port "x"`},
		{in: "8080::80", err: "missing host"},
		{in: "8080:*:80", err: "target host cannot be '*'"},
		{in: "[::1:8080:h:80", err: "unbalanced '['"},
		{in: "8080:[nothex]:80", err: "bad IPv6 address"},
		{in: "8080:bad host:80", err: "bad host name"},
		{in: "", err: "want [bind_address:]port:host:hostport"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseForwardSpec(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseForwardSpec(%q) error = %v, want one containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseForwardSpec(%q): %v", tt.in, err)
			}
			if f.Type != Local || f.Local != tt.local || f.Remote != tt.remote || f.Name != tt.name {
				t.Fatalf("ParseForwardSpec(%q) = %+v, want local %q remote %q name %q", tt.in, f, tt.local, tt.remote, tt.name)
			}
			if got := !isLoopbackAddr(f.Listen()); got != tt.nonLoopbackListen {
				t.Errorf("non-loopback = %v, want %v", got, tt.nonLoopbackListen)
			}
			// The spec round-trips through ssh's form.
			back, err := ParseForwardSpec(f.Spec())
			if err != nil || back.Local != f.Local || back.Remote != f.Remote {
				t.Errorf("round trip via %q = %+v, %v", f.Spec(), back, err)
			}
		})
	}
}

func TestDynamicAndRemoteSpecs(t *testing.T) {
	d, err := parseDynamicSpec("1080")
	if err != nil || d.Local != "127.0.0.1:1080" || d.Name != "D1080" || d.Target() != "" {
		t.Fatalf("dynamic = %+v, %v", d, err)
	}
	r, err := parseRemoteSpec("9000:127.0.0.1:3000")
	if err != nil || r.Remote != "127.0.0.1:9000" || r.Local != "127.0.0.1:3000" || r.Name != "R9000" {
		t.Fatalf("remote = %+v, %v", r, err)
	}
	if r.Listen() != "127.0.0.1:9000" || r.Target() != "127.0.0.1:3000" || r.Spec() != "127.0.0.1:9000:127.0.0.1:3000" {
		t.Fatalf("remote listen/target/spec = %q %q %q", r.Listen(), r.Target(), r.Spec())
	}
}

func TestForwardNames(t *testing.T) {
	for _, ok := range []string{"db", "DB", "a-b", "a_b", "L8080", "x1"} {
		if !validForwardName(ok) {
			t.Errorf("validForwardName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "1db", "-a", "_a", "a.b", "a b", "é"} {
		if validForwardName(bad) {
			t.Errorf("validForwardName(%q) = true", bad)
		}
	}
	if got := (Forward{Name: "web-ui"}).EnvName(); got != "KUGURI_WEB_UI_ADDR" {
		t.Errorf("EnvName = %q", got)
	}
}

func TestShellJoin(t *testing.T) {
	got := ShellJoin([]string{"ssh", "-o", "ProxyCommand=nc %h %p", "", "it's", "alice@h:22", "[::1]:80"})
	want := `ssh -o 'ProxyCommand=nc %h %p' '' 'it'"'"'s' alice@h:22 '[::1]:80'`
	if got != want {
		t.Fatalf("ShellJoin = %s\nwant       %s", got, want)
	}
}
