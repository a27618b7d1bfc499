package profile

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The shipped examples load, validate and resolve, every profile.
func TestExamples(t *testing.T) {
	e := newTestEnv(t)
	c, err := Load(e.opts(filepath.Join("..", "examples", "config.yaml"), filepath.Join("..", "examples", "ssh_config")))
	if err != nil {
		t.Fatalf("Load examples: %v", err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	want := []string{"Phone.vps", "bastion", "lazy-db", "socks", "vps", "vps-via-bastion", "win"}
	if got := c.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	id := filepath.Join(e.home, ".ssh", "id_ed25519")
	res := map[string]*Resolved{}
	for _, n := range c.Names() {
		r, err := c.Resolve(n)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", n, err)
		}
		if len(r.Warnings) != 0 {
			t.Errorf("Resolve(%q) warnings: %q", n, r.Warnings)
		}
		res[n] = r
	}
	type hopWant struct {
		addr, user string
	}
	chains := map[string][]hopWant{
		"vps":             {{"vps.example.net:22022", "alice"}},
		"bastion":         {{"bastion.example.net:2222", "alice"}},
		"vps-via-bastion": {{"bastion.example.net:2222", "alice"}, {"vps.example.net:22022", "alice"}},
		"win":             {{"vps.example.net:22022", "alice"}},
		"socks":           {{"vps.example.net:22022", "alice"}},
		"lazy-db":         {{"vps.example.net:22022", "alice"}},
		"Phone.vps":       {{"vps.example.net:22022", "alice"}},
	}
	for n, hops := range chains {
		r := res[n]
		if len(r.Hops) != len(hops) {
			t.Errorf("%s: %d hops, want %d: %+v", n, len(r.Hops), len(hops), r.Hops)
			continue
		}
		for i, h := range hops {
			if r.Hops[i].Addr() != h.addr || r.Hops[i].User != h.user {
				t.Errorf("%s hop %d = %s@%s, want %s@%s", n, i, r.Hops[i].User, r.Hops[i].Addr(), h.user, h.addr)
			}
			if !slices.Equal(r.Hops[i].IdentityFiles, []string{id}) || r.Hops[i].IdentityFilesDefault {
				t.Errorf("%s hop %d identities = %q (default %v), want [%s]", n, i, r.Hops[i].IdentityFiles, r.Hops[i].IdentityFilesDefault, id)
			}
		}
	}
	if !res["bastion"].Target().IdentitiesOnly {
		t.Error("bastion: IdentitiesOnly from ssh_config not applied")
	}
	if got := res["vps-via-bastion"].Target().ConnectTimeout; got != 30*time.Second {
		t.Errorf("vps-via-bastion connect timeout = %s, want 30s", got)
	}
	if got := res["vps"].Target().ConnectTimeout; got != 15*time.Second {
		t.Errorf("vps connect timeout = %s, want 15s", got)
	}
	lazy := res["lazy-db"]
	if !lazy.OnDemand || lazy.Settings.IdleTimeout != 5*time.Minute {
		t.Errorf("lazy-db: on_demand %v idle %s", lazy.OnDemand, lazy.Settings.IdleTimeout)
	}
	ph := res["Phone.vps"].Settings
	if ph.KeepaliveInterval != 5*time.Second || ph.KeepaliveCountMax != 2 || ph.Reconnect != (Backoff{500 * time.Millisecond, 15 * time.Second}) || ph.OnUp == "" {
		t.Errorf("Phone.vps settings = %+v", ph)
	}
	if got := res["socks"].Forwards; len(got) != 1 || got[0].Type != Dynamic || got[0].Local != "127.0.0.1:1080" {
		t.Errorf("socks forwards = %+v", got)
	}
	vps := res["vps"]
	wantF := []Forward{
		{Name: "db", Type: Local, Local: "127.0.0.1:5432", Remote: "127.0.0.1:5432"},
		{Name: "admin", Type: Local, Local: "127.0.0.1:8443", Remote: "127.0.0.1:8443", Probe: true, ProbeInterval: time.Minute},
		{Name: "rdp", Type: Local, Local: "127.0.0.1:13389", Remote: "10.0.0.5:3389"},
	}
	if !slices.Equal(vps.Forwards, wantF) {
		t.Errorf("vps forwards = %+v\nwant %+v", vps.Forwards, wantF)
	}
	wantCmd := []string{"ssh", "-p", "22022", "-i", id,
		"-L", "127.0.0.1:5432:127.0.0.1:5432", "-L", "127.0.0.1:8443:127.0.0.1:8443", "-L", "127.0.0.1:13389:10.0.0.5:3389",
		"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3", "alice@vps.example.net"}
	if got := vps.SSHCommand(); !slices.Equal(got, wantCmd) {
		t.Errorf("vps SSHCommand = %q\nwant %q", got, wantCmd)
	}
	vb := res["vps-via-bastion"]
	wantCmd = []string{"ssh", "-J", "alice@bastion.example.net:2222", "-p", "22022", "-i", id,
		"-L", "127.0.0.1:25432:127.0.0.1:5432", "-L", "127.0.0.1:28443:127.0.0.1:8443", "-R", "127.0.0.1:9000:127.0.0.1:3000",
		"-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3", "alice@vps.example.net"}
	if got := vb.SSHCommand(); !slices.Equal(got, wantCmd) {
		t.Errorf("vps-via-bastion SSHCommand = %q\nwant %q", got, wantCmd)
	}
	if vb.Forwards[0].Name != "L25432" {
		t.Errorf("shorthand forward name = %q, want L25432", vb.Forwards[0].Name)
	}
}

// `kuguri import vps` output for the example ssh_config loads as a profile.
func TestImportExample(t *testing.T) {
	e := newTestEnv(t)
	out, err := ImportHost(filepath.Join("..", "examples", "ssh_config"), "vps", e.opts("", ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import:\n%s", out)
	c := e.mustLoad(t, out, "")
	p, err := c.Lookup("vps")
	if err != nil {
		t.Fatal(err)
	}
	if p.Host != "vps" || p.Port != 22022 || p.User != "alice" {
		t.Errorf("imported profile = %+v", p)
	}
	want := []Forward{
		{Name: "L5432", Type: Local, Local: "127.0.0.1:5432", Remote: "127.0.0.1:5432"},
		{Name: "L8443", Type: Local, Local: "127.0.0.1:8443", Remote: "127.0.0.1:8443"},
	}
	if !slices.Equal(p.Forwards, want) {
		t.Errorf("imported forwards = %+v\nwant %+v", p.Forwards, want)
	}
}
