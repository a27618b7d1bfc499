package profile

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ImportHost builds a profile from one ssh_config Host entry: its host,
// port and user, and its LocalForward, DynamicForward and RemoteForward
// lines. It returns YAML text (a `profiles:` document holding that one
// profile) for `kuguri import HOST` to print; it writes nothing.
//
// sshConfigPath "" means opts.SSHConfig, else ~/.ssh/config. The profile's
// host: is the alias itself, so ssh_config keeps supplying the rest
// (IdentityFile, ProxyJump, ...). Forwards kuguri cannot hold (Unix
// sockets, remote dynamic forwards) are left out with a comment saying so.
func ImportHost(sshConfigPath, alias string, opts LoadOptions) (string, error) {
	getenv, home := opts.env()
	path := sshConfigPath
	if path == "" {
		path = opts.SSHConfig
	}
	if path == "" {
		path = filepath.Join(home, ".ssh", "config")
	}
	path = expandTilde(path, home)
	if strings.ContainsAny(alias, "*?!, \t") || alias == "" {
		return "", &FieldError{File: path, Msg: fmt.Sprintf("cannot import %q: give one host alias, not a pattern", alias)}
	}
	if err := checkProfileName(alias); err != nil {
		return "", &FieldError{File: path, Msg: fmt.Sprintf("cannot import %q: %v", alias, err)}
	}
	sc, err := readSSHConfig(path, home, getenv)
	if err != nil {
		return "", &FieldError{File: path, Msg: "ssh_config: " + err.Error(), Err: err}
	}
	if sc.cfg == nil {
		return "", &FieldError{File: path, Msg: strings.Join(sc.allWarnings(), "; ")}
	}

	found := false
	sc.walk(alias, func(v sshValue) bool {
		switch strings.ToLower(v.Key) {
		case "hostname", "port", "user", "localforward", "remoteforward", "dynamicforward":
			found = true
			return true
		}
		return false
	})
	if !found {
		return "", &FieldError{File: path, Msg: fmt.Sprintf("no Host entry for %q (nothing sets its HostName, Port, User or forwards)", alias)}
	}

	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	num := func(n int) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)} }
	prof := &yaml.Node{Kind: yaml.MappingNode}
	add := func(m *yaml.Node, k string, v *yaml.Node) { m.Content = append(m.Content, str(k), v) }

	add(prof, "host", str(alias))
	if v, ok := sc.get(alias, "HostName"); ok {
		prof.Content[0].LineComment = "HostName " + v.Value + " (from ssh_config)"
	}
	if v, ok := sc.get(alias, "Port"); ok {
		p, err := parsePort(v.Value, false)
		if err != nil {
			return "", &FieldError{File: v.File, Line: v.Line, Field: "Port", Msg: err.Error()}
		}
		add(prof, "port", num(p))
	}
	if v, ok := sc.get(alias, "User"); ok {
		add(prof, "user", str(v.Value))
	}

	var skipped []string
	fwds := &yaml.Node{Kind: yaml.SequenceNode}
	names := map[string]bool{}
	addFwd := func(f Forward, v sshValue) {
		base := f.Name
		for k := 2; names[f.EnvName()]; k++ {
			f.Name = base + "_" + strconv.Itoa(k)
		}
		names[f.EnvName()] = true
		nonLoop := !isLoopbackAddr(f.Listen())
		if f.Type == Local && !nonLoop && f.Name == base {
			e := str(f.Spec())
			e.LineComment = fmt.Sprintf("LocalForward %s", v.Value)
			fwds.Content = append(fwds.Content, e)
			return
		}
		m := &yaml.Node{Kind: yaml.MappingNode}
		add(m, "name", str(f.Name))
		if f.Type != Local {
			add(m, "type", str(f.Type.String()))
		}
		star := func(a string) string {
			if strings.HasPrefix(a, ":") {
				return "*" + a
			}
			return a
		}
		add(m, "local", str(star(f.Local)))
		if f.Type != Dynamic {
			add(m, "remote", str(star(f.Remote)))
		}
		if nonLoop {
			add(m, "allow_non_loopback", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		}
		m.HeadComment = fmt.Sprintf("%s %s", v.Key, v.Value)
		fwds.Content = append(fwds.Content, m)
	}
	sc.walk(alias, func(v sshValue) bool {
		var f Forward
		var err error
		args := splitArgs(v.Value)
		switch strings.ToLower(v.Key) {
		case "localforward":
			if len(args) != 2 || strings.Contains(v.Value, "/") {
				err = fmt.Errorf("not host:port forms")
			} else {
				f, err = ParseForwardSpec(args[0] + ":" + args[1])
			}
		case "remoteforward":
			if len(args) != 2 || strings.Contains(v.Value, "/") {
				err = fmt.Errorf("only [bind:]port host:hostport is supported")
			} else {
				f, err = parseRemoteSpec(args[0] + ":" + args[1])
			}
		case "dynamicforward":
			if len(args) != 1 || strings.Contains(v.Value, "/") {
				err = fmt.Errorf("not [bind:]port")
			} else {
				f, err = parseDynamicSpec(args[0])
			}
		default:
			return false
		}
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s:%d: %s %s: %v", v.File, v.Line, v.Key, v.Value, err))
			return false
		}
		addFwd(f, v)
		return false
	})
	if len(fwds.Content) > 0 {
		add(prof, "forwards", fwds)
	}
	if len(skipped) > 0 {
		prof.FootComment = "not imported:\n" + strings.Join(skipped, "\n")
	}
	profiles := &yaml.Node{Kind: yaml.MappingNode}
	add(profiles, alias, prof)
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add(doc, "profiles", profiles)
	doc.HeadComment = fmt.Sprintf("Imported from %s (Host %s): merge into your kuguri config's profiles:.", path, alias)
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("profile: import %q: %w", alias, err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("profile: import %q: %w", alias, err)
	}
	return buf.String(), nil
}
