package profile

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxHops bounds a jump chain (target included).
const maxHops = 10

// defaultIdentityFiles is OpenSSH's list, tried in order when nothing names
// an identity (not the library's protocol-1 ~/.ssh/identity).
var defaultIdentityFiles = []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"}

// Resolve merges the named profile with ssh_config and the defaults, and
// returns the hop chain the engine dials (see Hop for what each field
// means). Per hop the precedence is: the profile's field, then ssh_config for
// that host, then OpenSSH's defaults (kuguri's `defaults:` come after
// ssh_config for ConnectTimeout, the one setting both have).
//
// An unknown name gives an error matching ErrUnknownProfile and ErrInvalid,
// listing the known names; jump cycles and chains longer than 10 hops give
// a *FieldError. Problems that do not stop resolution are in
// Resolved.Warnings.
func (c *Config) Resolve(name string) (*Resolved, error) {
	p, err := c.Lookup(name)
	if err != nil {
		return nil, err
	}
	r, err := c.newResolver(name)
	if err != nil {
		return nil, err
	}
	hops, err := r.profileChain(name, nil)
	if err != nil {
		return nil, err
	}
	// The target is named as the profile writes its host ("vps", an
	// ssh_config alias or a host name), not by the profile's own name: the
	// chain then reads "bastion -> vps". Jump hops keep the names their
	// jump: entries give them.
	hops[len(hops)-1].Name = p.Host
	res := &Resolved{
		Name:     name,
		Hops:     hops,
		Forwards: slices.Clone(p.Forwards),
		Settings: c.effectiveSettings(p),
		OnDemand: p.OnDemand,
	}
	for i, f := range res.Forwards {
		if f.SOCKSPasswordFile != "" {
			res.Forwards[i].SOCKSPasswordFile = c.configPath(f.SOCKSPasswordFile, r.home)
		}
	}
	res.Warnings = dedupe(append(r.sshWarnings(), r.warnings...))
	return res, nil
}

// effectiveSettings fills unset (zero) fields of a profile's settings from
// the defaults, for profiles built in memory rather than loaded.
func (c *Config) effectiveSettings(p *Profile) Settings {
	s, d, b := p.Settings, c.Defaults, builtinSettings()
	fill := func(v *time.Duration, a, bb time.Duration) {
		if *v == 0 {
			*v = a
		}
		if *v == 0 {
			*v = bb
		}
	}
	fill(&s.KeepaliveInterval, d.KeepaliveInterval, b.KeepaliveInterval)
	fill(&s.ConnectTimeout, d.ConnectTimeout, b.ConnectTimeout)
	fill(&s.Reconnect.Initial, d.Reconnect.Initial, b.Reconnect.Initial)
	fill(&s.Reconnect.Max, d.Reconnect.Max, b.Reconnect.Max)
	fill(&s.IdleTimeout, d.IdleTimeout, b.IdleTimeout)
	if s.ProbeInterval == 0 {
		s.ProbeInterval = d.ProbeInterval
	}
	if s.KeepaliveCountMax == 0 {
		s.KeepaliveCountMax = d.KeepaliveCountMax
	}
	if s.KeepaliveCountMax == 0 {
		s.KeepaliveCountMax = b.KeepaliveCountMax
	}
	if s.OnUp == "" {
		s.OnUp = d.OnUp
	}
	if s.OnDown == "" {
		s.OnDown = d.OnDown
	}
	return s
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

type resolver struct {
	c        *Config
	ssh      *sshConfig
	getenv   func(string) string
	home     string
	top      string // the profile being resolved, for messages
	warnings []string
}

func (c *Config) newResolver(top string) (*resolver, error) {
	r := &resolver{c: c, top: top}
	if ld := c.ld; ld != nil {
		r.getenv, r.home, r.ssh = ld.getenv, ld.home, ld.ssh
		return r, nil
	}
	// Built in memory: the process environment, and SSHConfig if named.
	r.getenv, r.home = LoadOptions{}.env()
	if c.SSHConfig != "" {
		sc, err := readSSHConfig(c.SSHConfig, r.home, r.getenv)
		if err != nil {
			return nil, &FieldError{File: c.SSHConfig, Msg: "ssh_config: " + err.Error(), Err: err}
		}
		r.ssh = sc
	}
	return r, nil
}

func (r *resolver) sshWarnings() []string { return r.ssh.allWarnings() }

func (r *resolver) warnf(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

func (r *resolver) meta(name string) *profileMeta {
	if r.c.ld == nil {
		return nil
	}
	return r.c.ld.meta[name]
}

// chainErr locates a chain problem at the top profile's jump (or host) line.
func (r *resolver) chainErr(field, format string, args ...any) error {
	p := r.c.Profiles[r.top]
	line := 0
	if p != nil {
		line = r.meta(r.top).line(field, p.Line)
	}
	return &FieldError{File: r.c.File, Line: line, Profile: r.top, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func displayChain(stack []string, last string) string {
	parts := make([]string, 0, len(stack)+1)
	for _, s := range append(slices.Clip(stack), last) {
		if strings.HasPrefix(s, "=") && len(parts) > 0 {
			continue // the previous profile's own host
		}
		s = strings.TrimPrefix(s, "=")
		parts = append(parts, s[strings.IndexByte(s, ':')+1:])
	}
	return strings.Join(parts, " -> ")
}

// push adds key to the resolution stack, failing on a cycle or depth.
// Entries written "=key" (a profile's own host alias) take part in cycle
// detection but are not hops of their own.
func (r *resolver) push(stack []string, key string) ([]string, error) {
	for i, s := range stack {
		if strings.TrimPrefix(s, "=") != strings.TrimPrefix(key, "=") {
			continue
		}
		fe := r.chainErr("jump", "jump cycle: %s", displayChain(stack[i:], key)).(*FieldError)
		var members []string
		for _, m := range stack[i:] {
			members = append(members, strings.TrimPrefix(m, "="))
		}
		slices.Sort(members)
		fe.Err = &cycleError{key: strings.Join(members, "\x00")}
		return nil, fe
	}
	hops := 0
	for _, s := range stack {
		if !strings.HasPrefix(s, "=") {
			hops++
		}
	}
	if !strings.HasPrefix(key, "=") && hops >= maxHops {
		return nil, r.chainErr("jump", "jump chain deeper than %d hops: %s", maxHops, displayChain(stack, key))
	}
	return append(slices.Clip(stack), key), nil
}

// cycleError identifies a jump cycle by its members, so that Load reports
// a cycle once, not once per profile on it.
type cycleError struct{ key string }

func (e *cycleError) Error() string { return "jump cycle" }

type hopOverride struct {
	port       int
	user       string
	ids        []string
	knownHosts string
	timeout    time.Duration // 0: not set by the profile itself
	fallback   time.Duration // used when neither the profile nor ssh_config sets one
}

// profileChain returns the hops for profile name: its jump chain, then
// itself.
func (r *resolver) profileChain(name string, stack []string) ([]Hop, error) {
	stack, err := r.push(stack, "profile:"+name)
	if err != nil {
		return nil, err
	}
	p := r.c.Profiles[name]
	if p == nil {
		return nil, r.chainErr("jump", "unknown profile %q", name)
	}
	meta := r.meta(name)
	ov := hopOverride{port: p.Port, user: p.User, ids: p.IdentityFiles, knownHosts: p.KnownHosts}
	ov.fallback = r.c.effectiveSettings(p).ConnectTimeout
	if meta != nil && meta.set["connect_timeout"] {
		ov.timeout = p.Settings.ConnectTimeout
	}
	if p.Host == "" {
		return nil, &FieldError{File: r.c.File, Line: p.Line, Profile: name, Field: "host", Msg: "missing: say which SSH server to connect to"}
	}

	var chain []Hop
	var target Hop
	if base := r.c.Profiles[p.Host]; base != nil && p.Host != name {
		// host: names another profile: start from its hop and chain.
		bh, err := r.profileChain(p.Host, stack)
		if err != nil {
			return nil, err
		}
		chain, target = bh[:len(bh)-1], bh[len(bh)-1]
		target.Name = name
		if err := r.override(&target, ov); err != nil {
			return nil, err
		}
	} else {
		if target, err = r.hop(name, p.Host, ov); err != nil {
			return nil, err
		}
		if len(p.Jump) == 0 {
			st, err := r.push(stack, "=host:"+p.Host)
			if err != nil {
				return nil, err
			}
			if chain, err = r.sshProxy(p.Host, &target, st); err != nil {
				return nil, err
			}
		}
	}
	if len(p.Jump) > 0 {
		if chain, err = r.jumpList(p.Jump, stack, false); err != nil {
			return nil, err
		}
	}
	if len(chain) > 0 && target.ProxyCommand != "" {
		r.warnf("profile %q: ProxyCommand for %s is not used: the jump chain carries the connection", name, target.Name)
		target.ProxyCommand = ""
	}
	hops := append(slices.Clip(chain), target)
	if len(hops) > maxHops {
		return nil, r.chainErr("jump", "jump chain longer than %d hops", maxHops)
	}
	return hops, nil
}

// override applies a profile's own fields to a hop resolved for another
// profile.
func (r *resolver) override(h *Hop, ov hopOverride) error {
	if ov.port != 0 {
		h.Port = ov.port
	}
	if ov.user != "" {
		h.User = ov.user
	}
	t := r.tokens(h)
	if len(ov.ids) > 0 {
		h.IdentityFiles = h.IdentityFiles[:0:0]
		for _, f := range ov.ids {
			h.IdentityFiles = append(h.IdentityFiles, r.expand(f, t, true))
		}
		h.IdentityFilesDefault = false
	}
	if ov.knownHosts != "" {
		h.KnownHostsFiles = nil
		for _, f := range strings.Fields(ov.knownHosts) {
			h.KnownHostsFiles = append(h.KnownHostsFiles, r.expand(f, t, true))
		}
	}
	if ov.timeout != 0 {
		h.ConnectTimeout = ov.timeout
	}
	return nil
}

// jumpList resolves a jump list (first hop first). Like ssh's ProxyJump
// list, only the first entry's own jump chain is followed; the others are
// reached through the entries before them.
func (r *resolver) jumpList(entries []string, stack []string, fromSSH bool) ([]Hop, error) {
	var chain []Hop
	for i, e := range entries {
		var sub []Hop
		var err error
		if !fromSSH && r.c.Profiles[e] != nil {
			sub, err = r.profileChain(e, stack)
		} else {
			sub, err = r.hostChain(e, stack)
		}
		if err != nil {
			return nil, err
		}
		if i == 0 {
			chain = append(chain, sub...)
			continue
		}
		last := sub[len(sub)-1]
		if own := sub[:len(sub)-1]; len(own) > 0 && !sameHops(own, chain) {
			r.warnf("profile %q: jump host %s has its own jump chain (%s), not used because it is not the first hop", r.top, e, hopNames(own))
		}
		if last.ProxyCommand != "" {
			r.warnf("profile %q: ProxyCommand for jump host %s is not used: the hops before it carry the connection", r.top, e)
			last.ProxyCommand = ""
		}
		chain = append(chain, last)
	}
	return chain, nil
}

func sameHops(a, b []Hop) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Addr() != b[i].Addr() || a[i].User != b[i].User {
			return false
		}
	}
	return true
}

func hopNames(hs []Hop) string {
	n := make([]string, len(hs))
	for i, h := range hs {
		n[i] = h.String()
	}
	return strings.Join(n, " -> ")
}

// hostChain resolves a jump written as [user@]host[:port] or
// ssh://[user@]host[:port]: the host's own ssh_config ProxyJump first.
func (r *resolver) hostChain(written string, stack []string) ([]Hop, error) {
	spec, err := parseHopSpec(written)
	if err != nil {
		return nil, r.chainErr("jump", "%v", err)
	}
	if stack, err = r.push(stack, "host:"+spec.host); err != nil {
		return nil, err
	}
	h, err := r.hop(written, spec.host, hopOverride{port: spec.port, user: spec.user, fallback: r.c.effectiveSettings(&Profile{}).ConnectTimeout})
	if err != nil {
		return nil, err
	}
	chain, err := r.sshProxy(spec.host, &h, stack)
	if err != nil {
		return nil, err
	}
	if len(chain) > 0 {
		h.ProxyCommand = ""
	}
	return append(chain, h), nil
}

// sshProxy applies ssh_config's ProxyJump or ProxyCommand for alias,
// whichever comes first (as ssh does): a jump chain, or h.ProxyCommand.
func (r *resolver) sshProxy(alias string, h *Hop, stack []string) ([]Hop, error) {
	v, ok := r.ssh.first(alias, "ProxyJump", "ProxyCommand")
	if !ok || strings.EqualFold(v.Value, "none") {
		return nil, nil
	}
	if strings.EqualFold(v.Key, "ProxyCommand") {
		h.ProxyCommand = r.expand(v.Value, r.tokens(h), false)
		return nil, nil
	}
	var entries []string
	for _, e := range strings.Split(v.Value, ",") {
		if e = strings.TrimSpace(e); e != "" {
			entries = append(entries, e)
		}
	}
	chain, err := r.jumpList(entries, stack, true)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) && fe.File == r.c.File && !strings.Contains(fe.Msg, "ProxyJump") {
			c := *fe
			c.Msg = fmt.Sprintf("%s (via ProxyJump at %s:%d)", fe.Msg, v.File, v.Line)
			return nil, &c
		}
		return nil, err
	}
	return chain, nil
}

// sshErr locates an ssh_config value problem.
func (r *resolver) sshErr(v sshValue, alias, format string, args ...any) error {
	return &FieldError{File: v.File, Line: v.Line, Profile: r.top, Field: fmt.Sprintf("%s (Host %s)", v.Key, alias), Msg: fmt.Sprintf(format, args...)}
}

// hop resolves one hop: ov (the profile's fields), then ssh_config for
// alias, then OpenSSH's defaults.
func (r *resolver) hop(name, alias string, ov hopOverride) (Hop, error) {
	h := Hop{Name: name, HostName: alias, Port: 22}
	sc := r.ssh
	if v, ok := sc.get(alias, "HostName"); ok {
		hn := expandPercent(v.Value, map[byte]string{'h': alias})
		c, err := checkHost(hn)
		if err != nil {
			return h, r.sshErr(v, alias, "%v", err)
		}
		h.HostName = c
	} else if _, err := netip.ParseAddr(alias); err != nil && !strings.Contains(alias, ".") && !strings.EqualFold(alias, "localhost") {
		// A bare word that is neither a profile nor an ssh_config alias is
		// most likely a typo; it is still dialled as written.
		msg := fmt.Sprintf("profile %q: host %q is not a profile or an ssh_config Host with a HostName; it is dialled as a host name", r.top, alias)
		var others []string
		for _, n := range r.c.Names() {
			if n != alias {
				others = append(others, n)
			}
		}
		if s := suggest(alias, others); s != "" && len(alias) >= 4 {
			msg += fmt.Sprintf(" (did you mean profile %q?)", s)
		}
		r.warnings = append(r.warnings, msg)
	}
	if ov.port != 0 {
		h.Port = ov.port
	} else if v, ok := sc.get(alias, "Port"); ok {
		p, err := parsePort(v.Value, false)
		if err != nil {
			return h, r.sshErr(v, alias, "%v", err)
		}
		h.Port = p
	}
	switch {
	case ov.user != "":
		h.User = ov.user
	default:
		if v, ok := sc.get(alias, "User"); ok {
			h.User = v.Value
		} else if h.User = r.localUser(); h.User == "" {
			r.warnf("profile %q: no user for %s: set user:, or $USER", r.top, name)
		}
	}
	t := r.tokens(&h)
	t.alias = alias

	if len(ov.ids) > 0 {
		for _, f := range ov.ids {
			h.IdentityFiles = append(h.IdentityFiles, r.expand(f, t, true))
		}
	} else if vs := sc.getAll(alias, "IdentityFile"); len(vs) > 0 {
		for _, v := range vs {
			if strings.EqualFold(v.Value, "none") {
				continue
			}
			h.IdentityFiles = append(h.IdentityFiles, r.expand(v.Value, t, true))
		}
	} else {
		for _, f := range defaultIdentityFiles {
			h.IdentityFiles = append(h.IdentityFiles, joinPath(r.home, ".ssh", f))
		}
		h.IdentityFilesDefault = true
	}
	if v, ok := sc.get(alias, "IdentitiesOnly"); ok {
		h.IdentitiesOnly = yes(v.Value)
	}
	if v, ok := sc.get(alias, "IdentityAgent"); ok {
		switch {
		case strings.EqualFold(v.Value, "none"):
			h.IdentityAgent = "none"
		case v.Value == "SSH_AUTH_SOCK":
			h.IdentityAgent = ""
		case strings.HasPrefix(v.Value, "$") && !strings.HasPrefix(v.Value, "${"):
			h.IdentityAgent = r.getenv(v.Value[1:])
		default:
			h.IdentityAgent = r.expand(v.Value, t, true)
		}
	}
	for _, v := range sc.getAll(alias, "CertificateFile") {
		h.CertificateFiles = append(h.CertificateFiles, r.expand(v.Value, t, true))
	}
	switch {
	case ov.knownHosts != "":
		for _, f := range strings.Fields(ov.knownHosts) {
			h.KnownHostsFiles = append(h.KnownHostsFiles, r.expand(f, t, true))
		}
	default:
		if v, ok := sc.get(alias, "UserKnownHostsFile"); ok && !strings.EqualFold(v.Value, "none") {
			for _, f := range splitArgs(v.Value) {
				h.KnownHostsFiles = append(h.KnownHostsFiles, r.expand(f, t, true))
			}
		} else if !ok {
			h.KnownHostsFiles = []string{joinPath(r.home, ".ssh", "known_hosts"), joinPath(r.home, ".ssh", "known_hosts2")}
		}
	}
	h.StrictHostKeyChecking = "ask"
	if v, ok := sc.get(alias, "StrictHostKeyChecking"); ok {
		switch strings.ToLower(v.Value) {
		case "yes", "true":
			h.StrictHostKeyChecking = "yes"
		case "no", "off", "false":
			h.StrictHostKeyChecking = "no"
		case "accept-new":
			h.StrictHostKeyChecking = "accept-new"
		case "ask":
		default:
			return h, r.sshErr(v, alias, "bad value %q (want yes, no, accept-new or ask)", v.Value)
		}
	}
	if v, ok := sc.get(alias, "HostKeyAlias"); ok {
		h.HostKeyAlias = v.Value
	}
	if v, ok := sc.get(alias, "HashKnownHosts"); ok {
		h.HashKnownHosts = yes(v.Value)
	}
	h.ConnectTimeout = ov.timeout
	if h.ConnectTimeout == 0 {
		if v, ok := sc.get(alias, "ConnectTimeout"); ok && !strings.EqualFold(v.Value, "none") {
			n, err := strconv.Atoi(v.Value)
			if err != nil || n < 0 || n > int(maxDuration/time.Second) {
				return h, r.sshErr(v, alias, "bad number of seconds %q", v.Value)
			}
			h.ConnectTimeout = time.Duration(n) * time.Second
		}
	}
	if h.ConnectTimeout == 0 {
		h.ConnectTimeout = ov.fallback
	}
	if v, ok := sc.get(alias, "ServerAliveInterval"); ok {
		n, err := strconv.Atoi(v.Value)
		if err != nil || n < 0 || n > int(maxDuration/time.Second) {
			return h, r.sshErr(v, alias, "bad number of seconds %q", v.Value)
		}
		h.ServerAliveInterval = time.Duration(n) * time.Second
	}
	h.ServerAliveCountMax = 3
	if v, ok := sc.get(alias, "ServerAliveCountMax"); ok {
		n, err := strconv.Atoi(v.Value)
		if err != nil || n < 0 || n > 1<<20 {
			return h, r.sshErr(v, alias, "bad count %q", v.Value)
		}
		h.ServerAliveCountMax = n
	}
	return h, nil
}

func yes(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "true", "on":
		return true
	}
	return false
}

func joinPath(home string, parts ...string) string {
	return filepath.Join(append([]string{home}, parts...)...)
}

// localUser is $USER, then $LOGNAME (never os/user: Termux).
func (r *resolver) localUser() string {
	if u := r.getenv("USER"); u != "" {
		return u
	}
	return r.getenv("LOGNAME")
}

type tokenSet struct {
	home, host, port, ruser, luser, alias string
}

func (r *resolver) tokens(h *Hop) tokenSet {
	return tokenSet{home: r.home, host: h.HostName, port: strconv.Itoa(h.Port), ruser: h.User, luser: r.localUser(), alias: h.Name}
}

// expand expands ~ (when path), %-tokens (%d %h %p %r %u %n %l %%) and
// ${VAR}. An unknown token is left as written, with a warning.
func (r *resolver) expand(s string, t tokenSet, path bool) string {
	if path {
		s = expandTilde(s, r.home)
	}
	m := map[byte]string{'d': t.home, 'h': t.host, 'p': t.port, 'r': t.ruser, 'u': t.luser, 'n': t.alias}
	if strings.Contains(s, "%l") || strings.Contains(s, "%L") {
		hn, _ := os.Hostname()
		m['l'] = hn
		if i := strings.IndexByte(hn, '.'); i >= 0 {
			hn = hn[:i]
		}
		m['L'] = hn
	}
	out := expandPercent(s, m)
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' {
			if s[i+1] == '%' {
				i++
				continue
			}
			if _, ok := m[s[i+1]]; !ok {
				r.warnf("profile %q: token %%%c in %q is not supported; left as written", r.top, s[i+1], s)
			}
			i++
		}
	}
	return expandEnv(out, r.getenv)
}

// expandPercent replaces %X by m[X] and %% by %; unknown tokens stay.
func expandPercent(s string, m map[byte]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		c := s[i+1]
		if c == '%' {
			b.WriteByte('%')
		} else if v, ok := m[c]; ok {
			b.WriteString(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(c)
		}
		i++
	}
	return b.String()
}

// expandEnv replaces ${VAR} (OpenSSH's form; a bare $VAR stays).
func expandEnv(s string, getenv func(string) string) string {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return s
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return s
		}
		s = s[:i] + getenv(s[i+2:i+j]) + s[i+j+1:]
	}
}

// hopSpec is a jump written as [user@]host[:port] or
// ssh://[user@]host[:port].
type hopSpec struct {
	user, host string
	port       int
}

func parseHopSpec(s string) (hopSpec, error) {
	var h hopSpec
	orig := s
	if rest, ok := strings.CutPrefix(s, "ssh://"); ok {
		s = strings.TrimSuffix(rest, "/")
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		h.user, s = s[:i], s[i+1:]
		if h.user == "" || strings.ContainsAny(h.user, " \t") {
			return h, fmt.Errorf("bad jump host %q: bad user", orig)
		}
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return h, fmt.Errorf("bad jump host %q: unbalanced '['", orig)
		}
		host = s[:j+1]
		rest := s[j+1:]
		if rest != "" {
			if rest[0] != ':' {
				return h, fmt.Errorf("bad jump host %q", orig)
			}
			port = rest[1:]
			if port == "" {
				return h, fmt.Errorf("bad jump host %q: missing port", orig)
			}
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
		if port == "" {
			return h, fmt.Errorf("bad jump host %q: missing port", orig)
		}
	}
	hh, err := checkHost(host)
	if err != nil {
		return h, fmt.Errorf("bad jump host %q: %v", orig, err)
	}
	h.host = hh
	if port != "" {
		if h.port, err = parsePort(port, false); err != nil {
			return h, fmt.Errorf("bad jump host %q: %v", orig, err)
		}
	}
	return h, nil
}

// configPath expands a path written in the config file: ~ is the home
// directory, and a relative path is relative to the config file's
// directory (as written when the Config was built in memory).
func (c *Config) configPath(p, home string) string {
	if home != "" {
		p = expandTilde(p, home)
	}
	if !filepath.IsAbs(p) && c.File != "" {
		p = filepath.Join(filepath.Dir(c.File), p)
	}
	return p
}
