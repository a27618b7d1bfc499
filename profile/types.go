package profile

import (
	"time"

	"github.com/kuguri/kuguri/profile/forwardtype"
)

// Config is a loaded, validated configuration file.
type Config struct {
	// File is the config file it was read from ("" when built in memory).
	File string
	// SSHConfig is the ssh_config file in effect ("" means none: the default
	// ~/.ssh/config was absent).
	SSHConfig string
	// Resolver is a DNS server (host:port) for systems without
	// /etc/resolv.conf (Termux); "" means the built-in fallback order.
	Resolver string
	Defaults Settings
	// Profiles by exact, case-sensitive name.
	Profiles map[string]*Profile
	// Warnings are problems that do not stop loading (an ssh_config Match
	// block the parser cannot read, ...), each naming its file.
	Warnings []string

	// ld is what Load knew (environment, parsed ssh_config, field lines);
	// nil for a Config built in memory.
	ld *loadState
}

// Settings are the tunables a profile inherits from `defaults:`.
type Settings struct {
	KeepaliveInterval time.Duration // keepalive@openssh.com period (default 15s)
	KeepaliveCountMax int           // missed replies before the link is dead (default 3)
	ConnectTimeout    time.Duration // TCP connect + handshake bound per hop (default 15s)
	Reconnect         Backoff       // default {1s, 60s}
	IdleTimeout       time.Duration // on-demand profiles (default 10m)
	ProbeInterval     time.Duration // forward health probes; 0 = off
	OnUp              string        // hook command run when a profile comes up
	OnDown            string        // hook command run when it goes down
}

// Backoff is a capped exponential backoff.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Profile is one named profile as written in the config file, with unset
// settings filled from Config.Defaults.
type Profile struct {
	Name          string
	Line          int // line of the profile's key in the config file, 0 if unknown
	Host          string
	Port          int // 0 = not set here
	User          string
	IdentityFiles []string
	Jump          []string // first hop first: profile names, ssh_config aliases, [user@]host[:port]
	KnownHosts    string   // "" = from ssh_config / OpenSSH default
	OnDemand      bool
	Settings      Settings // with defaults applied
	Forwards      []Forward
}

// ForwardType says which way a forward goes. It lives in the leaf package
// forwardtype so that tunnel/api can use it without importing this package.
type ForwardType = forwardtype.Type

const (
	Local   = forwardtype.Local   // -L: listen on the client, connect on the server
	Dynamic = forwardtype.Dynamic // -D: SOCKS5 on the client, connect on the server
	Remote  = forwardtype.Remote  // -R: listen on the server, connect on the client
)

// Forward is one forward. Local is always the client's side and Remote the
// server's, whatever the type: for Local and Dynamic, Local is the listen
// address; for Remote, Remote is the server-side listen address and Local the
// client-side target. Addresses are normalized "host:port" (IPv6 in
// brackets); a bare port means 127.0.0.1:port.
type Forward struct {
	Name             string
	Type             ForwardType
	Local            string
	Remote           string // "" for Dynamic
	AllowNonLoopback bool
	Probe            bool          // health-probe the target
	ProbeInterval    time.Duration // 0 = Settings.ProbeInterval

	// SOCKS5 username/password authentication (RFC 1929), dynamic forwards
	// only. When SOCKSUser is set, exactly one of SOCKSPasswordEnv (the name
	// of an environment variable) and SOCKSPasswordFile (a file whose first
	// line is the password) is set; the engine reads the password when the
	// forward starts. The password itself is never part of the config.
	// SOCKSPasswordFile is as written in a Profile, and expanded (~, and
	// relative to the config file's directory) in a Resolved profile.
	SOCKSUser         string
	SOCKSPasswordEnv  string
	SOCKSPasswordFile string
}

// SOCKSAuth reports whether a dynamic forward requires SOCKS5
// username/password authentication.
func (f Forward) SOCKSAuth() bool { return f.Type == Dynamic && f.SOCKSUser != "" }

// Listen returns the address kuguri listens on for this forward: Local for
// local and dynamic forwards, Remote (on the server) for remote ones.
func (f Forward) Listen() string {
	if f.Type == Remote {
		return f.Remote
	}
	return f.Local
}

// Target returns where connections go: Remote for local forwards, Local for
// remote ones, "" for dynamic (the SOCKS client chooses).
func (f Forward) Target() string {
	switch f.Type {
	case Local:
		return f.Remote
	case Remote:
		return f.Local
	}
	return ""
}

// Resolved is a profile merged with ssh_config and defaults: everything the
// engine needs to dial it.
type Resolved struct {
	Name     string
	Hops     []Hop // dial order: Hops[0] is dialled over TCP (or ProxyCommand), the last is the target
	Forwards []Forward
	Settings Settings
	OnDemand bool
	Warnings []string
}

// Target returns the last hop: the host whose side "remote" refers to.
func (r *Resolved) Target() Hop { return r.Hops[len(r.Hops)-1] }

// Hop is one fully resolved SSH hop.
type Hop struct {
	// Name is the hop as written: a profile name, an ssh_config alias or
	// [user@]host[:port].
	Name     string
	HostName string // the real host to dial
	Port     int
	User     string
	// IdentityFiles are expanded paths, in order. When the config set none,
	// they are OpenSSH's default list and IdentityFilesDefault is true (the
	// engine then skips the ones that do not exist without complaint).
	IdentityFiles        []string
	IdentityFilesDefault bool
	IdentitiesOnly       bool
	// IdentityAgent is a socket path, "none" (do not use an agent), or ""
	// (use $SSH_AUTH_SOCK).
	IdentityAgent    string
	CertificateFiles []string
	// ProxyCommand, when set, is run through sh to carry this hop's
	// connection instead of TCP (tokens already expanded).
	ProxyCommand string
	// KnownHostsFiles are the files to check, in order; new keys are appended
	// to the first.
	KnownHostsFiles       []string
	StrictHostKeyChecking string // "yes", "accept-new", "no", "ask" (OpenSSH's default)
	HostKeyAlias          string
	HashKnownHosts        bool
	ConnectTimeout        time.Duration
	ServerAliveInterval   time.Duration // from ssh_config; informational (the profile's Settings rule)
	ServerAliveCountMax   int
}

// Addr returns host:port to dial.
func (h Hop) Addr() string { return joinHostPort(h.HostName, h.Port) }

// String returns the hop as shown in messages: "name (host:port)", or just
// host:port when the name is the host.
func (h Hop) String() string {
	a := h.Addr()
	if h.Name == "" || h.Name == h.HostName || h.Name == a {
		return a
	}
	return h.Name + " (" + a + ")"
}
