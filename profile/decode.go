package profile

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// loadState is what Load knows beyond the exported Config fields: the
// environment it resolved against, the parsed ssh_config, and where each
// profile's fields were written (for messages).
type loadState struct {
	getenv func(string) string
	home   string
	ssh    *sshConfig // nil when no ssh_config file is in effect
	meta   map[string]*profileMeta
	order  []string // profile names in file order
	// defaultsSet records the `defaults:` keys written in the file.
	defaultsSet map[string]bool
}

type profileMeta struct {
	lines map[string]int  // field ("host", "jump", "forwards[1]", ...) -> line
	set   map[string]bool // settings keys written in the profile itself
}

func (m *profileMeta) line(field string, fallback int) int {
	if m != nil {
		if l, ok := m.lines[field]; ok && l > 0 {
			return l
		}
	}
	return fallback
}

// nodeBudget bounds how many YAML nodes one decode may visit, following
// aliases and merge keys: a "billion laughs" document is refused instead of
// being expanded.
const nodeBudget = 1 << 18

type decoder struct {
	file      string
	probs     *problems
	budget    int
	exhausted bool
	budgetErr *FieldError // set when the budget ran out
	prof      string      // profile being decoded, for messages
}

func (d *decoder) errf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.probs.addf(d.file, line, d.prof, field, format, args...)
}

// deref follows aliases and charges the node budget; nil means "stop": the
// budget is spent (reported once).
func (d *decoder) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil; i++ {
		d.budget--
		if d.budget < 0 || i > 64 {
			if !d.exhausted {
				d.exhausted = true
				d.budgetErr = &FieldError{File: d.file, Line: n.Line, Msg: "document expands to too many nodes (aliases or merge keys nested too deep)"}
			}
			return nil
		}
		if n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

type pair struct {
	key  string
	k, v *yaml.Node
}

// pairs returns a mapping's entries in order, with merge keys (<<) applied
// (explicit keys win) and duplicate keys reported. A null node is an empty
// mapping when nullOK.
func (d *decoder) pairs(n *yaml.Node, field string, nullOK bool) ([]pair, bool) {
	n = d.deref(n)
	if n == nil {
		return nil, false
	}
	if nullOK && isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, field, "want a mapping, got %s", kindName(n))
		return nil, false
	}
	var out, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.deref(n.Content[i])
		if k == nil {
			return out, false
		}
		v := n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errf(k, field, "keys must be plain names, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			src := d.deref(v)
			if src == nil {
				return out, false
			}
			var srcs []*yaml.Node
			if src.Kind == yaml.SequenceNode {
				srcs = src.Content
			} else {
				srcs = []*yaml.Node{src}
			}
			for _, s := range srcs {
				ps, ok := d.pairs(s, field, false)
				if !ok && d.exhausted {
					return out, false
				}
				merged = append(merged, ps...)
			}
			continue
		}
		if seen[k.Value] {
			d.errf(k, joinField(field, k.Value), "duplicate key")
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{k.Value, k, v})
	}
	for _, m := range merged {
		if !seen[m.key] {
			seen[m.key] = true
			out = append(out, m)
		}
	}
	return out, true
}

// scalar returns a non-null scalar node, or reports what it got.
func (d *decoder) scalar(n *yaml.Node, field string) (*yaml.Node, bool) {
	n = d.deref(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		d.errf(n, field, "want a single value, got %s", kindName(n))
		return nil, false
	}
	if isNull(n) {
		d.errf(n, field, "missing value")
		return nil, false
	}
	return n, true
}

func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return "", false
	}
	if strings.ContainsFunc(s.Value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		d.errf(s, field, "contains control characters")
		return "", false
	}
	return s.Value, true
}

// strList accepts a single string or a list of strings.
func (d *decoder) strList(n *yaml.Node, field string) ([]string, bool) {
	n = d.deref(n)
	if n == nil {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		s, ok := d.str(n, field)
		if !ok {
			return nil, false
		}
		return []string{s}, true
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, e := range n.Content {
		s, good := d.str(e, fmt.Sprintf("%s[%d]", field, i))
		if !good {
			ok = false
			if d.exhausted {
				return nil, false
			}
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

func (d *decoder) integer(n *yaml.Node, field string) (int64, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return 0, false
	}
	switch s.Tag {
	case "!!int":
		var v int64
		if err := s.Decode(&v); err != nil {
			d.errf(s, field, "number %s out of range", s.Value)
			return 0, false
		}
		return v, true
	case "!!str":
		if v, err := strconv.ParseInt(s.Value, 10, 64); err == nil {
			return v, true
		}
	}
	d.errf(s, field, "want a whole number, got %s", kindName(s))
	return 0, false
}

func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return false, false
	}
	if s.Tag == "!!bool" {
		var b bool
		if err := s.Decode(&b); err == nil {
			return b, true
		}
	}
	switch strings.ToLower(s.Value) {
	case "yes", "on", "true":
		return true, true
	case "no", "off", "false":
		return false, true
	}
	d.errf(s, field, "want true or false, got %s", kindName(s))
	return false, false
}

// maxDuration bounds durations (a year) so arithmetic on them cannot overflow.
const maxDuration = 365 * 24 * time.Hour

// duration accepts a Go duration ("15s", "1m30s") or a whole number of
// seconds.
func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return 0, false
	}
	var v time.Duration
	switch s.Tag {
	case "!!int":
		var secs int64
		if err := s.Decode(&secs); err != nil || secs > int64(maxDuration/time.Second) || secs < -int64(maxDuration/time.Second) {
			d.errf(s, field, "duration %s out of range", s.Value)
			return 0, false
		}
		v = time.Duration(secs) * time.Second
	case "!!str":
		if secs, err := strconv.ParseInt(s.Value, 10, 64); err == nil {
			if secs > int64(maxDuration/time.Second) || secs < -int64(maxDuration/time.Second) {
				d.errf(s, field, "duration %s out of range", s.Value)
				return 0, false
			}
			v = time.Duration(secs) * time.Second
			break
		}
		dd, err := time.ParseDuration(s.Value)
		if err != nil {
			d.errf(s, field, "bad duration %q (want e.g. \"15s\", \"2m\", or a number of seconds)", s.Value)
			return 0, false
		}
		v = dd
	default:
		d.errf(s, field, "want a duration like \"15s\" or a number of seconds, got %s", kindName(s))
		return 0, false
	}
	if v < 0 {
		d.errf(s, field, "duration %s is negative", v)
		return 0, false
	}
	if v > maxDuration {
		d.errf(s, field, "duration %s is longer than a year", v)
		return 0, false
	}
	return v, true
}

// unknownKey reports an unknown key, suggesting the nearest known one.
func (d *decoder) unknownKey(k *yaml.Node, field string, known []string) {
	msg := "unknown field"
	if s := suggest(k.Value, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else {
		msg += " (known: " + strings.Join(known, ", ") + ")"
	}
	d.errf(k, field, "%s", msg)
}

func suggest(s string, known []string) string {
	best, bestD := "", 3
	ls := strings.ToLower(s)
	for _, k := range known {
		if len(ls) >= 4 && (strings.HasPrefix(k, ls) || strings.HasPrefix(ls, k)) {
			return k
		}
	}
	for _, k := range known {
		if dd := editDistance(ls, k); dd < bestD {
			best, bestD = k, dd
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ---- settings ----

var settingKeys = []string{"keepalive_interval", "keepalive_count_max", "connect_timeout", "reconnect", "idle_timeout", "probe_interval", "on_up", "on_down"}

// builtinSettings are kuguri's defaults.
func builtinSettings() Settings {
	return Settings{
		KeepaliveInterval: 15 * time.Second,
		KeepaliveCountMax: 3,
		ConnectTimeout:    15 * time.Second,
		Reconnect:         Backoff{Initial: time.Second, Max: 60 * time.Second},
		IdleTimeout:       10 * time.Minute,
	}
}

// setting decodes one settings key into s, marking it in set. It returns
// false when key is not a settings key.
func (d *decoder) setting(key string, k, v *yaml.Node, field string, s *Settings, set map[string]bool) bool {
	f := joinField(field, key)
	switch key {
	case "keepalive_interval", "connect_timeout", "idle_timeout":
		dur, ok := d.duration(v, f)
		if !ok {
			return true
		}
		if dur <= 0 {
			d.errf(v, f, "must be more than 0")
			return true
		}
		switch key {
		case "keepalive_interval":
			s.KeepaliveInterval = dur
		case "connect_timeout":
			s.ConnectTimeout = dur
		case "idle_timeout":
			s.IdleTimeout = dur
		}
		set[key] = true
	case "probe_interval":
		if dur, ok := d.duration(v, f); ok {
			s.ProbeInterval = dur
			set[key] = true
		}
	case "keepalive_count_max":
		n, ok := d.integer(v, f)
		if !ok {
			return true
		}
		if n < 1 || n > 1000 {
			d.errf(v, f, "%d out of range (1..1000)", n)
			return true
		}
		s.KeepaliveCountMax = int(n)
		set[key] = true
	case "reconnect":
		ps, _ := d.pairs(v, f, true)
		for _, p := range ps {
			pf := joinField(f, p.key)
			switch p.key {
			case "initial", "max":
				dur, ok := d.duration(p.v, pf)
				if !ok {
					continue
				}
				if dur <= 0 {
					d.errf(p.v, pf, "must be more than 0")
					continue
				}
				if p.key == "initial" {
					s.Reconnect.Initial = dur
				} else {
					s.Reconnect.Max = dur
				}
				set["reconnect."+p.key] = true
			default:
				d.unknownKey(p.k, pf, []string{"initial", "max"})
			}
		}
	case "on_up", "on_down":
		str, ok := d.str(v, f)
		if !ok {
			return true
		}
		if key == "on_up" {
			s.OnUp = str
		} else {
			s.OnDown = str
		}
		set[key] = true
	default:
		return false
	}
	return true
}

// settingLayer is one layer of settings: the values and which were written.
type settingLayer struct {
	s   Settings
	set map[string]bool
}

// layerSettings stacks layers over the built-in defaults: a later layer's
// written keys win.
func layerSettings(layers ...settingLayer) Settings {
	out := builtinSettings()
	for _, l := range layers {
		for key := range l.set {
			switch key {
			case "keepalive_interval":
				out.KeepaliveInterval = l.s.KeepaliveInterval
			case "keepalive_count_max":
				out.KeepaliveCountMax = l.s.KeepaliveCountMax
			case "connect_timeout":
				out.ConnectTimeout = l.s.ConnectTimeout
			case "reconnect.initial":
				out.Reconnect.Initial = l.s.Reconnect.Initial
			case "reconnect.max":
				out.Reconnect.Max = l.s.Reconnect.Max
			case "idle_timeout":
				out.IdleTimeout = l.s.IdleTimeout
			case "probe_interval":
				out.ProbeInterval = l.s.ProbeInterval
			case "on_up":
				out.OnUp = l.s.OnUp
			case "on_down":
				out.OnDown = l.s.OnDown
			}
		}
	}
	return out
}

// ---- the document ----

var topKeys = []string{"defaults", "profiles", "ssh_config", "resolver"}

var profileKeys = append([]string{"host", "port", "user", "identity_files", "jump", "known_hosts", "on_demand", "forwards"}, settingKeys...)

var forwardKeys = []string{"name", "type", "local", "remote", "allow_non_loopback", "probe", "probe_interval", "socks_user", "socks_password_env", "socks_password_file"}

// socksKeys are the forward keys for SOCKS5 username/password
// authentication, in the order they are reported.
var socksKeys = []string{"socks_user", "socks_password_env", "socks_password_file"}

// envNameRE is a portable environment variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// parseYAML decodes data into a node tree, turning yaml's errors (and,
// defensively, panics) into a FieldError with the line.
func parseYAML(file string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &FieldError{File: file, Msg: fmt.Sprintf("malformed YAML: %v", r)}
		}
	}()
	var doc yaml.Node
	if e := yaml.Unmarshal(data, &doc); e != nil {
		msg := strings.TrimPrefix(e.Error(), "yaml: ")
		line := 0
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
			// yaml.v3 prints a parser error's 0-based line as is (scanner
			// errors get their +1): every "did not find expected ..." comes
			// from the parser and names the line before the broken one.
			if strings.HasPrefix(msg, "did not find expected") {
				line++
			}
		}
		return nil, &FieldError{File: file, Line: line, Msg: "malformed YAML: " + msg}
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	if doc.Kind == 0 {
		return nil, nil
	}
	return &doc, nil
}

// load decodes and validates data read from file.
func load(file string, data []byte, opts LoadOptions, getenv func(string) string, home string) (*Config, error) {
	root, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	probs := &problems{}
	d := &decoder{file: file, probs: probs, budget: nodeBudget}
	st := &loadState{getenv: getenv, home: home, meta: map[string]*profileMeta{}, defaultsSet: map[string]bool{}}
	c := &Config{File: file, Profiles: map[string]*Profile{}, ld: st}

	var top []pair
	if root != nil {
		top, _ = d.pairs(root, "", true)
	}
	var defaultsLayer = settingLayer{set: st.defaultsSet}
	var profilesNode *yaml.Node
	sshConfigLine := 0
	var sshConfigPath string
	for _, p := range top {
		switch p.key {
		case "defaults":
			ps, _ := d.pairs(p.v, "defaults", true)
			for _, q := range ps {
				if !d.setting(q.key, q.k, q.v, "defaults", &defaultsLayer.s, defaultsLayer.set) {
					d.unknownKey(q.k, "defaults."+q.key, settingKeys)
				}
			}
		case "profiles":
			profilesNode = p.v
		case "ssh_config":
			if s, ok := d.str(p.v, "ssh_config"); ok {
				sshConfigPath, sshConfigLine = s, p.k.Line
			}
		case "resolver":
			if s, ok := d.str(p.v, "resolver"); ok {
				r, err := normalizeResolver(s)
				if err != nil {
					d.errf(p.v, "resolver", "%v", err)
				} else {
					c.Resolver = r
				}
			}
		default:
			d.unknownKey(p.k, p.key, topKeys)
		}
	}
	c.Defaults = layerSettings(defaultsLayer)
	if c.Defaults.Reconnect.Max < c.Defaults.Reconnect.Initial {
		probs.addf(file, 0, "", "defaults.reconnect", "max (%s) is less than initial (%s)", c.Defaults.Reconnect.Max, c.Defaults.Reconnect.Initial)
	}

	if profilesNode != nil {
		ps, _ := d.pairs(profilesNode, "profiles", true)
		for _, p := range ps {
			d.prof = p.key
			if err := checkProfileName(p.key); err != nil {
				d.errf(p.k, "", "%v", err)
			}
			prof, meta := d.profile(p, defaultsLayer)
			c.Profiles[p.key] = prof
			st.meta[p.key] = meta
			st.order = append(st.order, p.key)
			d.prof = ""
		}
	}

	if d.exhausted {
		// Everything after this point is a consequence: say only this.
		return nil, d.budgetErr
	}

	// The ssh_config file: --ssh-config, else ssh_config:, else ~/.ssh/config.
	switch {
	case opts.SSHConfig != "":
		path := expandTilde(opts.SSHConfig, home)
		sc, err := readSSHConfig(path, home, getenv)
		if err != nil {
			probs.add(&FieldError{File: path, Msg: "ssh_config: " + err.Error(), Err: err})
		} else {
			st.ssh = sc
		}
	case sshConfigPath != "":
		path := expandTilde(sshConfigPath, home)
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(file), path)
		}
		sc, err := readSSHConfig(path, home, getenv)
		if err != nil {
			probs.add(&FieldError{File: file, Line: sshConfigLine, Field: "ssh_config", Msg: fmt.Sprintf("%s: %v", path, err), Err: err})
		} else {
			st.ssh = sc
		}
	default:
		if home != "" {
			path := filepath.Join(home, ".ssh", "config")
			sc, err := readSSHConfig(path, home, getenv)
			switch {
			case err == nil:
				st.ssh = sc
			case !isNotExist(err):
				probs.add(&FieldError{File: path, Msg: "ssh_config: " + err.Error(), Err: err})
			}
		}
	}
	if st.ssh != nil {
		c.SSHConfig = st.ssh.path
		c.Warnings = append(c.Warnings, st.ssh.allWarnings()...)
	}

	c.validate(probs)
	sortProblems(probs.list)
	if err := probs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func sortProblems(list []error) {
	sort.SliceStable(list, func(i, j int) bool {
		a, _ := list[i].(*FieldError)
		b, _ := list[j].(*FieldError)
		if a == nil || b == nil {
			return false
		}
		if a.File != b.File {
			return false
		}
		return a.Line < b.Line
	})
}

// normalizeResolver accepts host:port, or an IP address (port 53).
func normalizeResolver(s string) (string, error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		h, err := checkHost(s)
		if err != nil {
			return "", err
		}
		return joinHostPort(h, 53), nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return joinHostPort(s, 53), nil
	}
	parts, err := splitColons(s)
	if err != nil || len(parts) != 2 {
		return "", fmt.Errorf("bad resolver %q (want host:port or an IP address)", s)
	}
	return targetAddr(parts[0], parts[1])
}

// checkProfileName enforces [A-Za-z0-9][A-Za-z0-9._-]*: names are
// case-sensitive and may contain dots.
func checkProfileName(s string) error {
	if s == "" {
		return fmt.Errorf("empty profile name")
	}
	if len(s) > 128 {
		return fmt.Errorf("profile name longer than 128 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("bad profile name %q (use letters, digits, '.', '_' and '-', starting with a letter or digit)", s)
		}
	}
	return nil
}

// profile decodes one profile entry.
func (d *decoder) profile(entry pair, defaults settingLayer) (*Profile, *profileMeta) {
	p := &Profile{Name: entry.key, Line: entry.k.Line}
	meta := &profileMeta{lines: map[string]int{"": entry.k.Line}, set: map[string]bool{}}
	own := settingLayer{set: meta.set}
	ps, _ := d.pairs(entry.v, "", true)
	var fwdNode *yaml.Node
	for _, q := range ps {
		meta.lines[q.key] = q.k.Line
		switch q.key {
		case "host":
			if s, ok := d.str(q.v, "host"); ok {
				h, err := checkHost(s)
				if err != nil {
					d.errf(q.v, "host", "%v", err)
				} else {
					p.Host = h
				}
			}
		case "port":
			if n, ok := d.integer(q.v, "port"); ok {
				if n < 1 || n > 65535 {
					d.errf(q.v, "port", "port %d out of range", n)
				} else {
					p.Port = int(n)
				}
			}
		case "user":
			if s, ok := d.str(q.v, "user"); ok {
				if s == "" || strings.ContainsAny(s, " \t") {
					d.errf(q.v, "user", "bad user name %q", s)
				} else {
					p.User = s
				}
			}
		case "identity_files":
			if l, ok := d.strList(q.v, "identity_files"); ok {
				for i, s := range l {
					if s == "" {
						d.errf(q.v, fmt.Sprintf("identity_files[%d]", i), "empty path")
						continue
					}
					p.IdentityFiles = append(p.IdentityFiles, s)
				}
			}
		case "jump":
			l, ok := d.strList(q.v, "jump")
			if !ok {
				break
			}
			for i, s := range l {
				for _, e := range strings.Split(s, ",") {
					e = strings.TrimSpace(e)
					f := fmt.Sprintf("jump[%d]", i)
					if e == "" {
						d.errf(q.v, f, "empty jump host")
						continue
					}
					if checkProfileName(e) != nil {
						if _, err := parseHopSpec(e); err != nil {
							d.errf(q.v, f, "%v", err)
							continue
						}
					}
					p.Jump = append(p.Jump, e)
				}
			}
		case "known_hosts":
			if s, ok := d.str(q.v, "known_hosts"); ok {
				p.KnownHosts = s
			}
		case "on_demand":
			if b, ok := d.boolean(q.v, "on_demand"); ok {
				p.OnDemand = b
			}
		case "forwards":
			fwdNode = q.v
		default:
			if !d.setting(q.key, q.k, q.v, "", &own.s, own.set) {
				d.unknownKey(q.k, q.key, profileKeys)
			}
		}
	}
	p.Settings = layerSettings(defaults, own)
	if p.Settings.Reconnect.Max < p.Settings.Reconnect.Initial {
		d.errf(entry.k, "reconnect", "max (%s) is less than initial (%s)", p.Settings.Reconnect.Max, p.Settings.Reconnect.Initial)
	}
	if p.Host == "" && meta.lines["host"] == 0 {
		d.errf(entry.k, "host", "missing: say which SSH server to connect to (a host name or an ssh_config Host alias)")
	}
	if fwdNode != nil {
		p.Forwards = d.forwards(fwdNode, meta)
	}
	return p, meta
}

// forwards decodes a profile's forwards list.
func (d *decoder) forwards(n *yaml.Node, meta *profileMeta) []Forward {
	n = d.deref(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "forwards", "want a list, got %s", kindName(n))
		return nil
	}
	var out []Forward
	explicit := map[string]bool{}
	type pending struct {
		idx  int
		line int
	}
	var unnamed []pending
	for i, e := range n.Content {
		field := fmt.Sprintf("forwards[%d]", i)
		e = d.deref(e)
		if e == nil {
			return out
		}
		meta.lines[field] = e.Line
		var f Forward
		var ok bool
		named := false
		switch e.Kind {
		case yaml.ScalarNode:
			if isNull(e) || e.Tag != "!!str" {
				d.errf(e, field, "want an ssh -L style string like \"8080:127.0.0.1:8080\" or a mapping, got %s", kindName(e))
				continue
			}
			var err error
			f, err = ParseForwardSpec(e.Value)
			if err != nil {
				d.errf(e, field, "%v", err)
				continue
			}
			f.Name = ""
			ok = true
			if !isLoopbackAddr(f.Local) {
				d.errf(e, field, "listens on non-loopback address %s: use the mapping form with allow_non_loopback: true", f.Local)
				ok = false
			}
		case yaml.MappingNode:
			f, ok = d.forwardMap(e, field)
			named = f.Name != ""
		default:
			d.errf(e, field, "want an ssh -L style string or a mapping, got %s", kindName(e))
			continue
		}
		if !ok {
			continue
		}
		if named {
			env := f.EnvName()
			if explicit[env] {
				d.errf(e, field+".name", "duplicate forward name %q", f.Name)
				continue
			}
			explicit[env] = true
		} else {
			unnamed = append(unnamed, pending{len(out), e.Line})
		}
		out = append(out, f)
	}
	// Default names ("L8080"), made unique against explicit and each other.
	for _, u := range unnamed {
		base := defaultForwardName(out[u.idx])
		name := base
		for k := 2; explicit[Forward{Name: name}.EnvName()]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		explicit[Forward{Name: name}.EnvName()] = true
		out[u.idx].Name = name
	}
	return out
}

// forwardMap decodes the mapping form of a forward.
func (d *decoder) forwardMap(n *yaml.Node, field string) (Forward, bool) {
	ps, ok := d.pairs(n, field, false)
	if !ok {
		return Forward{}, false
	}
	var f Forward
	var localN, remoteN *yaml.Node
	var localS, remoteS string
	socksN := map[string]*yaml.Node{} // socks_* key -> its value node
	good := true
	for _, p := range ps {
		pf := field + "." + p.key
		switch p.key {
		case "name":
			s, ok := d.str(p.v, pf)
			if !ok {
				good = false
				continue
			}
			if !validForwardName(s) {
				d.errf(p.v, pf, "bad forward name %q (want a letter, then letters, digits, '_' or '-')", s)
				good = false
				continue
			}
			f.Name = s
		case "type":
			s, ok := d.str(p.v, pf)
			if !ok {
				good = false
				continue
			}
			if err := f.Type.UnmarshalText([]byte(s)); err != nil {
				d.errf(p.v, pf, "%v", err)
				good = false
			}
		case "local", "remote":
			s, ok := d.scalar(p.v, pf)
			if !ok {
				good = false
				continue
			}
			if s.Tag != "!!str" && s.Tag != "!!int" {
				d.errf(s, pf, "want an address like 127.0.0.1:5432 or a port, got %s", kindName(s))
				good = false
				continue
			}
			if p.key == "local" {
				localN, localS = s, s.Value
			} else {
				remoteN, remoteS = s, s.Value
			}
		case "allow_non_loopback":
			b, ok := d.boolean(p.v, pf)
			good = good && ok
			f.AllowNonLoopback = b
		case "probe":
			b, ok := d.boolean(p.v, pf)
			good = good && ok
			f.Probe = b
		case "probe_interval":
			dur, ok := d.duration(p.v, pf)
			good = good && ok
			f.ProbeInterval = dur
		case "socks_user", "socks_password_env", "socks_password_file":
			if !d.socksKey(p.key, p.v, pf, &f) {
				good = false
				continue
			}
			socksN[p.key] = p.v
		default:
			d.unknownKey(p.k, pf, forwardKeys)
			good = false
		}
	}
	if !good {
		return f, false
	}
	if !d.checkSOCKSAuth(n, field, f, socksN) {
		return f, false
	}
	var err error
	switch f.Type {
	case Local, Dynamic:
		if localN == nil {
			d.errf(n, field+".local", "missing: the address to listen on (a port, or host:port)")
			return f, false
		}
		if f.Local, err = parseListen(localS); err != nil {
			d.errf(localN, field+".local", "%v", err)
			good = false
		}
		if f.Type == Dynamic {
			if remoteN != nil {
				d.errf(remoteN, field+".remote", "a dynamic (SOCKS) forward has no remote: the client picks the target")
				good = false
			}
		} else if remoteN == nil {
			d.errf(n, field+".remote", "missing: where to connect on the server's side (host:port)")
			good = false
		} else if f.Remote, err = parseTarget(remoteS); err != nil {
			d.errf(remoteN, field+".remote", "%v", err)
			good = false
		}
		if good && !f.AllowNonLoopback && !isLoopbackAddr(f.Local) {
			d.errf(localN, field+".local", "listens on non-loopback address %s: set allow_non_loopback: true to allow it", f.Local)
			good = false
		}
	case Remote:
		if remoteN == nil {
			d.errf(n, field+".remote", "missing: the address to listen on, on the server (a port, or host:port)")
			return f, false
		}
		if f.Remote, err = parseListen(remoteS); err != nil {
			d.errf(remoteN, field+".remote", "%v", err)
			good = false
		}
		if localN == nil {
			d.errf(n, field+".local", "missing: where to connect on the client's side (host:port)")
			good = false
		} else if f.Local, err = parseTarget(localS); err != nil {
			d.errf(localN, field+".local", "%v", err)
			good = false
		}
		if good && !f.AllowNonLoopback && !isLoopbackAddr(f.Remote) {
			d.errf(remoteN, field+".remote", "listens on non-loopback address %s on the server: set allow_non_loopback: true to allow it", f.Remote)
			good = false
		}
	}
	return f, good
}

// socksKey decodes one socks_* key of a forward mapping into f.
func (d *decoder) socksKey(key string, v *yaml.Node, field string, f *Forward) bool {
	s, ok := d.str(v, field)
	if !ok {
		return false
	}
	switch key {
	case "socks_user":
		switch {
		case s == "":
			d.errf(v, field, "empty user name")
			return false
		case len(s) > 255:
			d.errf(v, field, "user name longer than 255 bytes (the SOCKS5 limit, RFC 1929)")
			return false
		}
		f.SOCKSUser = s
	case "socks_password_env":
		if !envNameRE.MatchString(s) {
			d.errf(v, field, "bad environment variable name %q (want letters, digits and '_', not starting with a digit)", s)
			return false
		}
		f.SOCKSPasswordEnv = s
	case "socks_password_file":
		if s == "" {
			d.errf(v, field, "empty path")
			return false
		}
		f.SOCKSPasswordFile = s
	}
	return true
}

// checkSOCKSAuth enforces the rules between a forward's socks_* keys: they
// belong to dynamic forwards only, and socks_user comes with exactly one
// password source. n is the forward's mapping, nodes its socks_* values.
func (d *decoder) checkSOCKSAuth(n *yaml.Node, field string, f Forward, nodes map[string]*yaml.Node) bool {
	if len(nodes) == 0 {
		return true
	}
	if f.Type != Dynamic {
		for _, k := range socksKeys {
			if v := nodes[k]; v != nil {
				d.errf(v, field+"."+k, "only a dynamic (SOCKS) forward takes %s (this one is type %s)", k, f.Type)
				return false
			}
		}
	}
	envN, fileN := nodes["socks_password_env"], nodes["socks_password_file"]
	switch {
	case envN != nil && fileN != nil:
		d.errf(fileN, field+".socks_password_file", "set only one of socks_password_env and socks_password_file")
		return false
	case f.SOCKSUser == "":
		src := "socks_password_env"
		if fileN != nil {
			src = "socks_password_file"
		}
		d.errf(n, field+".socks_user", "missing: %s needs socks_user, the user name SOCKS clients log in with", src)
		return false
	case envN == nil && fileN == nil:
		d.errf(nodes["socks_user"], field+".socks_user", "needs a password: set socks_password_env (an environment variable) or socks_password_file")
		return false
	}
	return true
}
