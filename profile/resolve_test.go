package profile

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kevinburke/ssh_config"
)

func hopAddrs(r *Resolved) []string {
	var out []string
	for _, h := range r.Hops {
		out = append(out, h.User+"@"+h.Addr())
	}
	return out
}

func mustResolve(t *testing.T, c *Config, name string) *Resolved {
	t.Helper()
	r, err := c.Resolve(name)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", name, err)
	}
	return r
}

func TestResolveHostAliasAndPrecedence(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  plain:
    host: vps
  override:
    host: vps
    port: 2200
    user: bob
    identity_files: [~/keys/bob]
  direct:
    host: direct.example.net
`, `
Host vps
    HostName vps.example.net
    Port 22022
    User alice
    IdentityFile ~/.ssh/id_vps
Host *
    Port 2222
    User everyone
`)
	p := mustResolve(t, c, "plain").Target()
	if p.Addr() != "vps.example.net:22022" || p.User != "alice" || p.Name != "vps" {
		t.Errorf("plain = %+v", p)
	}
	if !slices.Equal(p.IdentityFiles, []string{filepath.Join(e.home, ".ssh/id_vps")}) || p.IdentityFilesDefault {
		t.Errorf("plain identities = %q default=%v", p.IdentityFiles, p.IdentityFilesDefault)
	}
	o := mustResolve(t, c, "override").Target()
	if o.Addr() != "vps.example.net:2200" || o.User != "bob" || !slices.Equal(o.IdentityFiles, []string{filepath.Join(e.home, "keys/bob")}) {
		t.Errorf("override (profile beats ssh_config) = %+v", o)
	}
	// Host * applies to hosts without their own entry; first value wins.
	d := mustResolve(t, c, "direct").Target()
	if d.Addr() != "direct.example.net:2222" || d.User != "everyone" {
		t.Errorf("direct = %+v", d)
	}
	// The target is named by its host as written, so a plain host name
	// shows once.
	if d.String() != "direct.example.net:2222" {
		t.Errorf("Hop.String() = %q", d.String())
	}
}

func TestResolveOpenSSHDefaults(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, "profiles:\n  x:\n    host: x.example.net\n", "")
	h := mustResolve(t, c, "x").Target()
	if h.Port != 22 || h.User != "tester" {
		t.Errorf("port/user = %d %q, want 22 tester ($USER)", h.Port, h.User)
	}
	var want []string
	for _, f := range []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"} {
		want = append(want, filepath.Join(e.home, ".ssh", f))
	}
	if !slices.Equal(h.IdentityFiles, want) || !h.IdentityFilesDefault {
		t.Errorf("identities = %q default=%v, want OpenSSH's list", h.IdentityFiles, h.IdentityFilesDefault)
	}
	kh := []string{filepath.Join(e.home, ".ssh/known_hosts"), filepath.Join(e.home, ".ssh/known_hosts2")}
	if !slices.Equal(h.KnownHostsFiles, kh) {
		t.Errorf("known hosts = %q, want %q", h.KnownHostsFiles, kh)
	}
	if h.StrictHostKeyChecking != "ask" || h.ConnectTimeout != 15*time.Second || h.ServerAliveCountMax != 3 || h.IdentityAgent != "" {
		t.Errorf("defaults = %+v", h)
	}
	// $LOGNAME when $USER is unset.
	delete(e.env, "USER")
	e.env["LOGNAME"] = "logname"
	c = e.mustLoad(t, "profiles:\n  x:\n    host: x.example.net\n", "")
	if u := mustResolve(t, c, "x").Target().User; u != "logname" {
		t.Errorf("user = %q, want $LOGNAME", u)
	}
}

func TestResolveTokensAndOptions(t *testing.T) {
	e := newTestEnv(t)
	e.env["KEYDIR"] = "/keys"
	c := e.mustLoad(t, `
profiles:
  t:
    host: tok
    connect_timeout: 7s
  u:
    host: tok
`, `
Host tok
    HostName tok.example.net
    Port 2022
    User remote
    IdentityFile ~/.ssh/%h_%p_%r
    IdentityFile %d/k/%u-%n-%%
    IdentityFile ${KEYDIR}/id
    IdentitiesOnly yes
    IdentityAgent ~/agent.sock
    CertificateFile ~/.ssh/%r-cert.pub
    UserKnownHostsFile ~/.ssh/kh_a "~/.ssh/kh b"
    StrictHostKeyChecking accept-new
    HostKeyAlias tokalias
    HashKnownHosts yes
    ConnectTimeout 9
    ServerAliveInterval 20
    ServerAliveCountMax 5
`)
	h := mustResolve(t, c, "t").Target()
	wantIDs := []string{
		filepath.Join(e.home, ".ssh/tok.example.net_2022_remote"),
		e.home + "/k/tester-tok-%",
		"/keys/id",
	}
	if !slices.Equal(h.IdentityFiles, wantIDs) {
		t.Errorf("identities = %q\nwant %q", h.IdentityFiles, wantIDs)
	}
	if !h.IdentitiesOnly || h.IdentityAgent != filepath.Join(e.home, "agent.sock") || h.HostKeyAlias != "tokalias" || !h.HashKnownHosts {
		t.Errorf("options = %+v", h)
	}
	if !slices.Equal(h.CertificateFiles, []string{filepath.Join(e.home, ".ssh/remote-cert.pub")}) {
		t.Errorf("certificates = %q", h.CertificateFiles)
	}
	if !slices.Equal(h.KnownHostsFiles, []string{filepath.Join(e.home, ".ssh/kh_a"), filepath.Join(e.home, ".ssh/kh b")}) {
		t.Errorf("known hosts = %q", h.KnownHostsFiles)
	}
	if h.StrictHostKeyChecking != "accept-new" || h.ServerAliveInterval != 20*time.Second || h.ServerAliveCountMax != 5 {
		t.Errorf("options = %+v", h)
	}
	// connect_timeout written in the profile beats ssh_config's ConnectTimeout...
	if h.ConnectTimeout != 7*time.Second {
		t.Errorf("t connect timeout = %s, want 7s (profile)", h.ConnectTimeout)
	}
	// ...which beats the built-in default.
	if got := mustResolve(t, c, "u").Target().ConnectTimeout; got != 9*time.Second {
		t.Errorf("u connect timeout = %s, want 9s (ssh_config)", got)
	}
}

func TestResolveProxyJump(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  deep:
    host: target
  lonely:
    host: special
  listed:
    host: listed
  uri:
    host: uri
  viaprofile:
    host: inner.example.net
    jump: [edge-profile, "carol@hop.example.net:2201"]
  edge-profile:
    host: edge.example.net
    port: 2022
    user: edgeuser
  overridden:
    host: target
    jump: ["ssh://dave@other.example.net:2300"]
  cmd:
    host: viacmd
  both:
    host: both
`, `
Host target
    HostName target.example.net
    ProxyJump mid
Host mid
    HostName mid.example.net
    User midu
    ProxyJump edge
Host edge
    HostName edge.example.net
    Port 2022
Host special
    ProxyJump none
Host spec*
    ProxyJump never.example.net
Host listed
    ProxyJump a@one.example.net:1,two
Host two
    HostName two.example.net
    ProxyJump somewhere-else
Host uri
    ProxyJump ssh://eve@jump.example.net:2201
Host viacmd
    HostName cmd.example.net
    Port 2200
    ProxyCommand ssh -W %h:%p %r@gw.example.net
Host both
    ProxyCommand nc %h %p
    ProxyJump ignored.example.net
`)
	tests := []struct {
		name string
		hops []string
	}{
		{"deep", []string{"tester@edge.example.net:2022", "midu@mid.example.net:22", "tester@target.example.net:22"}},
		{"lonely", []string{"tester@special:22"}},
		{"listed", []string{"a@one.example.net:1", "tester@two.example.net:22", "tester@listed:22"}},
		{"uri", []string{"eve@jump.example.net:2201", "tester@uri:22"}},
		{"viaprofile", []string{"edgeuser@edge.example.net:2022", "carol@hop.example.net:2201", "tester@inner.example.net:22"}},
		{"overridden", []string{"dave@other.example.net:2300", "tester@target.example.net:22"}},
		{"cmd", []string{"tester@cmd.example.net:2200"}},
		{"both", []string{"tester@both:22"}},
	}
	for _, tt := range tests {
		r := mustResolve(t, c, tt.name)
		if got := hopAddrs(r); !slices.Equal(got, tt.hops) {
			t.Errorf("%s hops = %q\nwant %q", tt.name, got, tt.hops)
		}
	}
	// ProxyCommand: tokens expanded, recorded on the first hop.
	if pc := mustResolve(t, c, "cmd").Hops[0].ProxyCommand; pc != "ssh -W cmd.example.net:2200 tester@gw.example.net" {
		t.Errorf("ProxyCommand = %q", pc)
	}
	// ProxyCommand before ProxyJump: the first one wins, as in ssh.
	if pc := mustResolve(t, c, "both").Hops[0].ProxyCommand; pc != "nc both 22" {
		t.Errorf("both: ProxyCommand = %q", pc)
	}
	// A non-first jump's own ProxyJump is not followed, and that is said.
	r := mustResolve(t, c, "listed")
	if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "two") && strings.Contains(w, "own jump chain") }) {
		t.Errorf("listed warnings = %q", r.Warnings)
	}
	// The hops are named as written.
	if n := mustResolve(t, c, "viaprofile").Hops[0].Name; n != "edge-profile" {
		t.Errorf("hop name = %q, want edge-profile", n)
	}
	// SSHCommand gives the chain as -J.
	cmd := mustResolve(t, c, "deep").SSHCommand()
	if i := slices.Index(cmd, "-J"); i < 0 || cmd[i+1] != "tester@edge.example.net:2022,midu@mid.example.net" {
		t.Errorf("deep SSHCommand = %q", cmd)
	}
	if cmd := mustResolve(t, c, "cmd").SSHCommand(); !slices.Contains(cmd, "ProxyCommand=ssh -W cmd.example.net:2200 tester@gw.example.net") {
		t.Errorf("cmd SSHCommand = %q", cmd)
	}
}

func TestResolveSSHConfigCycle(t *testing.T) {
	e := newTestEnv(t)
	_, err := e.load(t, "profiles:\n  x:\n    host: a\n", "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n")
	fes := fieldErrors(t, err)
	if len(fes) != 1 || fes[0].Profile != "x" || fes[0].Field != "jump" || !strings.HasPrefix(fes[0].Msg, "jump cycle: a -> b -> a") || !strings.Contains(fes[0].Msg, "ProxyJump at") {
		t.Fatalf("err = %v", err)
	}
	if fes[0].Line != 2 {
		t.Errorf("line = %d, want 2 (the profile)", fes[0].Line)
	}
}

func TestJumpProfileChainFollowedFirst(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  outer: {host: outer.example.net, user: o}
  inner: {host: inner.example.net, user: i, jump: [outer]}
  target: {host: target.example.net, jump: [inner]}
  Prod.DB: {host: db.example.net, jump: [target]}
  prod.db: {host: other.example.net}
`, "")
	want := []string{"o@outer.example.net:22", "i@inner.example.net:22", "tester@target.example.net:22", "tester@db.example.net:22"}
	if got := hopAddrs(mustResolve(t, c, "Prod.DB")); !slices.Equal(got, want) {
		t.Errorf("Prod.DB hops = %q, want %q", got, want)
	}
	if got := hopAddrs(mustResolve(t, c, "prod.db")); !slices.Equal(got, []string{"tester@other.example.net:22"}) {
		t.Errorf("prod.db (a different profile) = %q", got)
	}
}

func TestNamesWithDotsAndCapitals(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  Prod.DB:
    host: db.example.net
    forwards: ["5432:127.0.0.1:5432"]
  prod.db:
    host: db2.example.net
    forwards: ["5433:127.0.0.1:5432"]
  a.b.c:
    host: abc.example.net
`, "")
	if got, want := c.Names(), []string{"Prod.DB", "a.b.c", "prod.db"}; !slices.Equal(got, want) {
		t.Fatalf("Names = %q, want %q", got, want)
	}
	if p, err := c.Lookup("Prod.DB"); err != nil || p.Host != "db.example.net" || p.Name != "Prod.DB" {
		t.Fatalf("Lookup(Prod.DB) = %+v, %v", p, err)
	}
	if c.Profiles["a.b.c"].Host != "abc.example.net" {
		t.Fatal("a.b.c was split on dots")
	}
	_, err := c.Resolve("PROD.DB")
	if !errors.Is(err, ErrUnknownProfile) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Resolve(PROD.DB) = %v, want ErrUnknownProfile", err)
	}
	if want := `known profiles: "Prod.DB", "a.b.c", "prod.db"`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not list the known profiles", err)
	}
}

func TestInclude(t *testing.T) {
	e := newTestEnv(t)
	write(t, e.home, ".ssh/conf.d/10-work.conf", "Host work\n    HostName work.example.net\n    Port 2201\n")
	write(t, e.home, ".ssh/conf.d/20-more.conf", "Host work\n    User worker\n    Port 9\nHost *\n    User nobody\n")
	write(t, e.home, "abs/inc.conf", "Host absolute\n    HostName abs.example.net\n")
	c := e.mustLoad(t, `
profiles:
  work: {host: work}
  abs: {host: absolute}
`, "Include conf.d/*.conf\nInclude ~/abs/inc.conf\nHost work\n    Port 1\n")
	h := mustResolve(t, c, "work").Target()
	if h.Addr() != "work.example.net:2201" || h.User != "worker" {
		t.Errorf("work = %s@%s, want worker@work.example.net:2201 (included files in order, first value wins)", h.User, h.Addr())
	}
	if h := mustResolve(t, c, "abs").Target(); h.HostName != "abs.example.net" || h.User != "nobody" {
		t.Errorf("abs = %+v", h)
	}
	// Include inside a Host block applies to that host only.
	write(t, e.home, ".ssh/only.conf", "Port 4444\n")
	c = e.mustLoad(t, "profiles:\n  a: {host: a}\n  b: {host: b}\n", "Host a\n    Include only.conf\n")
	if p := mustResolve(t, c, "a").Target().Port; p != 4444 {
		t.Errorf("a port = %d, want 4444", p)
	}
	if p := mustResolve(t, c, "b").Target().Port; p != 22 {
		t.Errorf("b port = %d, want 22", p)
	}
	// A file including itself stops at the depth limit, with a warning.
	c = e.mustLoad(t, "profiles:\n  a: {host: a}\n", "Include config\nHost a\n  Port 23\n")
	if p := mustResolve(t, c, "a").Target().Port; p != 23 {
		t.Errorf("self-include: port = %d", p)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, "Include nested deeper") }) {
		t.Errorf("self-include warnings = %q", c.Warnings)
	}
}

// The known trap: a Match block kevinburke/ssh_config cannot parse makes it
// fail the whole file (every host would resolve with nothing). kuguri fences
// the block off, resolves the rest, and warns naming the file and line.
func TestMatchBlockWarning(t *testing.T) {
	e := newTestEnv(t)
	sshcfg := `Host vps
    HostName vps.example.net
    Port 22022
Match user bob exec "true"
    Port 1
    User bob
Host *
    User alice
`
	if _, err := ssh_config.DecodeBytes([]byte(sshcfg)); err == nil {
		t.Log("the library now reads this Match block; the fence is still correct")
	}
	c := e.mustLoad(t, "profiles:\n  vps: {host: vps}\n", sshcfg)
	path := filepath.Join(e.home, ".ssh", "config")
	want := path + `:4: "Match user bob exec "true"" is not supported`
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
		t.Errorf("Config.Warnings = %q, want one starting %q", c.Warnings, want)
	}
	r := mustResolve(t, c, "vps")
	if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
		t.Errorf("Resolved.Warnings = %q", r.Warnings)
	}
	h := r.Target()
	if h.Addr() != "vps.example.net:22022" || h.User != "alice" {
		t.Errorf("vps = %s@%s, want alice@vps.example.net:22022 (the Match block's Port/User not applied)", h.User, h.Addr())
	}

	// Match host LIST is read as Host LIST, with a warning.
	c = e.mustLoad(t, "profiles:\n  a: {host: a}\n  b: {host: b}\n", "Match host a,b\n    Port 2\nMatch all\n    Port 3\n")
	if p := mustResolve(t, c, "b").Target().Port; p != 2 {
		t.Errorf("Match host: port = %d, want 2", p)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool {
		return strings.Contains(w, `"Match host a,b" is matched against the host as written`)
	}) {
		t.Errorf("Match host warnings = %q", c.Warnings)
	}
	matchWarnings := 0
	for _, w := range c.Warnings {
		if strings.Contains(w, "Match") {
			matchWarnings++
		}
	}
	if matchWarnings != 1 {
		t.Errorf("Match all must not warn: %q", c.Warnings)
	}
}

func TestTypoHostWarning(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  bastion: {host: bastion.example.net}
  vps: {host: vps.example.net, jump: [bastoin]}
`, "")
	want := `profile "vps": host "bastoin" is not a profile or an ssh_config Host with a HostName; it is dialled as a host name (did you mean profile "bastion"?)`
	if !slices.Contains(c.Warnings, want) {
		t.Errorf("Config.Warnings = %q, want %q", c.Warnings, want)
	}
	if r := mustResolve(t, c, "vps"); !slices.Contains(r.Warnings, want) {
		t.Errorf("Resolved.Warnings = %q", r.Warnings)
	}
	if r := mustResolve(t, c, "bastion"); len(r.Warnings) != 0 {
		t.Errorf("bastion warnings = %q", r.Warnings)
	}
}

func TestKnownHostsPrecedence(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  a: {host: kh}
  b: {host: kh, known_hosts: ~/my_known_hosts}
  n: {host: none}
`, "Host kh\n  UserKnownHostsFile /etc/kh\nHost none\n  UserKnownHostsFile none\n")
	if got := mustResolve(t, c, "a").Target().KnownHostsFiles; !slices.Equal(got, []string{"/etc/kh"}) {
		t.Errorf("a = %q", got)
	}
	if got := mustResolve(t, c, "b").Target().KnownHostsFiles; !slices.Equal(got, []string{filepath.Join(e.home, "my_known_hosts")}) {
		t.Errorf("b = %q", got)
	}
	if got := mustResolve(t, c, "n").Target().KnownHostsFiles; len(got) != 0 {
		t.Errorf("none = %q", got)
	}
}

func TestHostNamesAnotherProfile(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  base: {host: base.example.net, port: 2222, user: u, jump: [j.example.net]}
  child: {host: base, user: v}
`, "")
	if got := hopAddrs(mustResolve(t, c, "child")); !slices.Equal(got, []string{"tester@j.example.net:22", "v@base.example.net:2222"}) {
		t.Errorf("child = %q", got)
	}
}

func TestSSHCommandBriefExample(t *testing.T) {
	e := newTestEnv(t)
	c := e.mustLoad(t, `
profiles:
  vps:
    host: vps.example.net
    port: 22022
    user: alice
    identity_files: [/home/alice/.ssh/id]
    jump: ["alice@bastion:2222"]
    forwards:
      - "5432:127.0.0.1:5432"
      - {name: socks, type: dynamic, local: 1080}
      - {name: back, type: remote, remote: 127.0.0.1:9000, local: 127.0.0.1:3000}
`, "")
	got := mustResolve(t, c, "vps").SSHCommand()
	want := []string{"ssh", "-J", "alice@bastion:2222", "-p", "22022", "-i", "/home/alice/.ssh/id",
		"-L", "127.0.0.1:5432:127.0.0.1:5432", "-D", "127.0.0.1:1080", "-R", "127.0.0.1:9000:127.0.0.1:3000",
		"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3", "alice@vps.example.net"}
	if !slices.Equal(got, want) {
		t.Fatalf("SSHCommand = %q\nwant %q", got, want)
	}
	if s := ShellJoin(got); s != strings.Join(want, " ") {
		t.Errorf("ShellJoin = %s", s)
	}
}

func TestResolveInMemoryConfig(t *testing.T) {
	c := &Config{Profiles: map[string]*Profile{
		"m": {Name: "m", Host: "127.0.0.1", Port: 2022, User: "x", Forwards: []Forward{{Name: "a", Local: "127.0.0.1:0", Remote: "127.0.0.1:80"}}},
	}}
	r, err := c.Resolve("m")
	if err != nil {
		t.Fatal(err)
	}
	if r.Target().Addr() != "127.0.0.1:2022" || r.Settings.KeepaliveInterval != 15*time.Second || r.Settings.Reconnect.Max != time.Minute {
		t.Errorf("in-memory resolve = %+v %+v", r.Target(), r.Settings)
	}
}
