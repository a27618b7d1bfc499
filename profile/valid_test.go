package profile

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestValidEmptyFixtures(t *testing.T) {
	for _, f := range []string{"empty", "comments_only", "empty_profiles", "null_profiles"} {
		e := newTestEnv(t)
		c, err := Load(e.opts(filepath.Join("testdata", "valid", f+".yaml"), ""))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(c.Names()) != 0 || c.Defaults != builtinSettings() {
			t.Errorf("%s: names %q defaults %+v", f, c.Names(), c.Defaults)
		}
		if c.SSHConfig != "" {
			t.Errorf("%s: SSHConfig = %q with no ~/.ssh/config", f, c.SSHConfig)
		}
	}
}

func TestValidFull(t *testing.T) {
	e := newTestEnv(t)
	c, err := Load(e.opts(filepath.Join("testdata", "valid", "full.yaml"), ""))
	if err != nil {
		t.Fatal(err)
	}
	wantDefaults := Settings{
		KeepaliveInterval: 20 * time.Second, KeepaliveCountMax: 4, ConnectTimeout: 10 * time.Second,
		Reconnect: Backoff{2 * time.Second, 2 * time.Minute}, IdleTimeout: time.Hour, ProbeInterval: 30 * time.Second,
		OnUp: "notify up", OnDown: "notify down",
	}
	if c.Defaults != wantDefaults {
		t.Errorf("defaults = %+v\nwant %+v", c.Defaults, wantDefaults)
	}
	if c.Resolver != "1.1.1.1:53" {
		t.Errorf("resolver = %q", c.Resolver)
	}
	base := c.Profiles["base"]
	if base.Host != "base.example.net" || base.User != "ops" || base.Port != 2222 {
		t.Errorf("base (merge key) = %+v", base)
	}
	wantS := wantDefaults
	wantS.KeepaliveInterval = 5 * time.Second
	if base.Settings != wantS {
		t.Errorf("base settings = %+v\nwant %+v", base.Settings, wantS)
	}
	want := []Forward{
		{Name: "L0", Type: Local, Local: "127.0.0.1:0", Remote: "127.0.0.1:80"},
		{Name: "L0_2", Type: Local, Local: "127.0.0.1:0", Remote: "127.0.0.1:81"},
		{Name: "L8080", Type: Local, Local: "[::1]:8080", Remote: "[fe80::1]:80"},
		{Name: "L5432_2", Type: Local, Local: "127.0.0.1:5432", Remote: "db:5432"},
		{Name: "L5432", Type: Local, Local: "127.0.0.1:5433", Remote: "db:5433"},
		{Name: "lan", Type: Local, Local: ":9090", Remote: "127.0.0.1:9090", AllowNonLoopback: true},
		{Name: "socks", Type: Dynamic, Local: "[::1]:1080"},
		{Name: "back", Type: Remote, Remote: "127.0.0.1:0", Local: "127.0.0.1:3000"},
		{Name: "web", Type: Local, Local: "127.0.0.1:8443", Remote: "127.0.0.1:443", Probe: true, ProbeInterval: 10 * time.Second},
	}
	if !slices.Equal(base.Forwards, want) {
		for i := range max(len(want), len(base.Forwards)) {
			var g, w Forward
			if i < len(base.Forwards) {
				g = base.Forwards[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("forward %d = %+v\n      want %+v", i, g, w)
			}
		}
	}
	o := c.Profiles["Other.Host"]
	if o.Host != "2001:db8::1" || o.Port != 2200 || o.User != "ops" || o.Line != 31 {
		t.Errorf("Other.Host = %+v", o)
	}
	r := mustResolve(t, c, "Other.Host")
	if r.Target().Addr() != "[2001:db8::1]:2200" || r.Target().ConnectTimeout != 10*time.Second {
		t.Errorf("Other.Host target = %+v", r.Target())
	}
	if got := r.SSHCommand(); got[len(got)-1] != "ops@2001:db8::1" {
		t.Errorf("SSHCommand = %q", got)
	}
}

func TestDefaultPath(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if got := DefaultPath(get, "/h"); got != "/h/.config/kuguri/config.yaml" {
		t.Errorf("no env: %q", got)
	}
	env["XDG_CONFIG_HOME"] = "/xdg"
	if got := DefaultPath(get, "/h"); got != "/xdg/kuguri/config.yaml" {
		t.Errorf("XDG: %q", got)
	}
	env["KUGURI_CONFIG"] = "~/k.yaml"
	if got := DefaultPath(get, "/h"); got != "/h/k.yaml" {
		t.Errorf("KUGURI_CONFIG: %q", got)
	}
	// Home from $HOME when not given.
	env = map[string]string{"HOME": "/envhome"}
	if got := DefaultPath(get, ""); got != "/envhome/.config/kuguri/config.yaml" {
		t.Errorf("$HOME: %q", got)
	}
}

func TestSSHConfigKeyRelativeToConfig(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	write(t, dir, "my_ssh_config", "Host a\n  HostName a.example.net\n")
	file := write(t, dir, "config.yaml", "ssh_config: my_ssh_config\nprofiles:\n  a: {host: a}\n")
	c, err := Load(e.opts(file, ""))
	if err != nil {
		t.Fatal(err)
	}
	if c.SSHConfig != filepath.Join(dir, "my_ssh_config") || mustResolve(t, c, "a").Target().HostName != "a.example.net" {
		t.Errorf("SSHConfig = %q", c.SSHConfig)
	}
	// --ssh-config wins over the key.
	other := write(t, dir, "other", "Host a\n  HostName other.example.net\n")
	c, err = Load(e.opts(file, other))
	if err != nil {
		t.Fatal(err)
	}
	if mustResolve(t, c, "a").Target().HostName != "other.example.net" {
		t.Error("--ssh-config did not win over ssh_config:")
	}
	// ~/.ssh/config is read when neither is given.
	write(t, e.home, ".ssh/config", "Host a\n  HostName home.example.net\n")
	file = write(t, dir, "config2.yaml", "profiles:\n  a: {host: a}\n")
	c, err = Load(e.opts(file, ""))
	if err != nil {
		t.Fatal(err)
	}
	if mustResolve(t, c, "a").Target().HostName != "home.example.net" {
		t.Error("~/.ssh/config not read")
	}
}
