package profile

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSOCKSAuthKeys(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `profiles:
  vps:
    host: vps.example.net
    forwards:
      - {name: env, type: dynamic, local: 1080, socks_user: alice, socks_password_env: KUGURI_SOCKS_PASSWORD}
      - name: file
        type: dynamic
        local: 1081
        socks_user: bob
        socks_password_file: ~/.config/kuguri/socks-password
      - name: rel
        socks_password_file: secrets/socks   # key order does not matter
        socks_user: carol
        local: 1082
        type: dynamic
      - {name: plain, type: dynamic, local: 1083}
`, "")
	got := c.Profiles["vps"].Forwards
	want := []Forward{
		{Name: "env", Type: Dynamic, Local: "127.0.0.1:1080", SOCKSUser: "alice", SOCKSPasswordEnv: "KUGURI_SOCKS_PASSWORD"},
		{Name: "file", Type: Dynamic, Local: "127.0.0.1:1081", SOCKSUser: "bob", SOCKSPasswordFile: "~/.config/kuguri/socks-password"},
		{Name: "rel", Type: Dynamic, Local: "127.0.0.1:1082", SOCKSUser: "carol", SOCKSPasswordFile: "secrets/socks"},
		{Name: "plain", Type: Dynamic, Local: "127.0.0.1:1083"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("forwards\n got %+v\nwant %+v", got, want)
	}
	for i, w := range []bool{true, true, true, false} {
		if got[i].SOCKSAuth() != w {
			t.Errorf("%s: SOCKSAuth() = %v", got[i].Name, !w)
		}
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings on loopback forwards: %q", c.Warnings)
	}

	// Resolve expands the password file: ~ to the home, a relative path
	// against the config file's directory. The profile keeps it as written.
	r, err := c.Resolve("vps")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Forwards[1].SOCKSPasswordFile, filepath.Join(e.home, ".config", "kuguri", "socks-password"); got != want {
		t.Errorf("resolved password file %q, want %q", got, want)
	}
	if got, want := r.Forwards[2].SOCKSPasswordFile, filepath.Join(e.home, "secrets", "socks"); got != want {
		t.Errorf("resolved relative password file %q, want %q", got, want)
	}
	if c.Profiles["vps"].Forwards[1].SOCKSPasswordFile != "~/.config/kuguri/socks-password" {
		t.Errorf("Resolve changed the profile's forward: %+v", c.Profiles["vps"].Forwards[1])
	}
	// ssh -D has no authentication: the command line is unchanged.
	cmd := strings.Join(r.SSHCommand(), " ")
	if !strings.Contains(cmd, "-D 127.0.0.1:1080") || strings.Contains(cmd, "alice") || strings.Contains(cmd, "KUGURI_SOCKS_PASSWORD") {
		t.Errorf("SSHCommand = %q", cmd)
	}
}

// A dynamic forward open to the network without authentication loads, with
// a warning naming file, line, profile and forward.
func TestSOCKSNonLoopbackWarning(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `profiles:
  vps:
    host: vps.example.net
    forwards:
      - {name: open, type: dynamic, local: 0.0.0.0:1080, allow_non_loopback: true}
      - {name: locked, type: dynamic, local: 0.0.0.0:1081, allow_non_loopback: true, socks_user: a, socks_password_env: P}
      - {name: lo, type: dynamic, local: 1082}
`, "")
	want := filepath.Join(e.home, "config.yaml") + `:5: profile "vps": forwards[0]: dynamic forward open listens on 0.0.0.0:1080 without socks_user: anyone on that network can use your SSH server as a proxy`
	if len(c.Warnings) != 1 || c.Warnings[0] != want {
		t.Fatalf("warnings %q\nwant [%q]", c.Warnings, want)
	}
}
