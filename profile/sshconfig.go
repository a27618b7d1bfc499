package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// sshConfig is one parsed ssh_config file with its Include files.
//
// kevinburke/ssh_config is used for the per-host lookups, with three
// adjustments made by rewriting the text before the library sees it:
//   - Include lines become a marker, and kuguri reads the included files
//     itself (relative to the home it was given, never via os/user), so
//     lookups stay hermetic and in file order;
//   - "Match all" stays; "Match host LIST" becomes "Host LIST" (with a
//     warning: ssh matches it against the HostName, the library against the
//     alias);
//   - any other Match block (user, exec, final, ...) is fenced off as a Host
//     block that never matches, with a warning naming the file and line.
//     Left in, the library refuses the whole file, and every host would
//     silently resolve with no settings at all.
type sshConfig struct {
	path     string
	cfg      *ssh_config.Config // nil: the file could not be parsed (see warnings)
	includes map[string][]*sshConfig
	warnings []string
}

const (
	includeMarker   = "XKuguriInclude"
	maxIncludeDepth = 16
	maxIncludeFiles = 256
)

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

type sshReader struct {
	home   string
	getenv func(string) string
	files  int
}

// readSSHConfig reads path (which must exist) and what it includes.
func readSSHConfig(path, home string, getenv func(string) string) (*sshConfig, error) {
	r := &sshReader{home: home, getenv: getenv}
	return r.read(path, 0)
}

func (r *sshReader) read(path string, depth int) (*sshConfig, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	r.files++
	sc := &sshConfig{path: path, includes: map[string][]*sshConfig{}}
	text, incs := sc.preprocess(data)
	cfg, err := decodeSSHConfig(text)
	if err != nil {
		sc.warnings = append(sc.warnings, fmt.Sprintf("%s: cannot be parsed (%v); kuguri ignores this file, so hosts may resolve differently than with ssh", path, err))
		return sc, nil
	}
	sc.cfg = cfg
	for i, dirs := range incs {
		key := strconv.Itoa(i)
		if depth+1 > maxIncludeDepth {
			sc.warnings = append(sc.warnings, fmt.Sprintf("%s: Include nested deeper than %d levels; ignored", path, maxIncludeDepth))
			continue
		}
		for _, dir := range dirs {
			pat := expandTilde(dir, r.home)
			if !filepath.IsAbs(pat) {
				pat = filepath.Join(r.home, ".ssh", pat)
			}
			matches, err := filepath.Glob(pat)
			if err != nil {
				sc.warnings = append(sc.warnings, fmt.Sprintf("%s: Include %q: %v", path, dir, err))
				continue
			}
			sort.Strings(matches)
			for _, m := range matches {
				if r.files >= maxIncludeFiles {
					sc.warnings = append(sc.warnings, fmt.Sprintf("%s: more than %d included files; the rest are ignored", path, maxIncludeFiles))
					break
				}
				inc, err := r.read(m, depth+1)
				if err != nil {
					sc.warnings = append(sc.warnings, fmt.Sprintf("%s: Include %s: %v", path, m, err))
					continue
				}
				sc.includes[key] = append(sc.includes[key], inc)
			}
		}
	}
	return sc, nil
}

// decodeSSHConfig calls the library, turning a panic into an error.
func decodeSSHConfig(text []byte) (cfg *ssh_config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("parser failed: %v", r)
		}
	}()
	return ssh_config.DecodeBytes(text)
}

var matchKeywords = map[string]bool{
	"all": true, "canonical": true, "final": true, "exec": true, "localnetwork": true,
	"host": true, "originalhost": true, "tagged": true, "user": true, "localuser": true,
	"version": true, "sessiontype": true, "command": true, "address": true, "localaddress": true,
	"localport": true, "rdomain": true,
}

// preprocess rewrites Include and Match lines (see sshConfig) and returns
// the text for the library and each Include's arguments by marker index.
func (sc *sshConfig) preprocess(data []byte) ([]byte, [][]string) {
	lines := strings.Split(string(data), "\n")
	var incs [][]string
	for i, line := range lines {
		kw, rest := splitKeyword(line)
		switch strings.ToLower(kw) {
		case "include":
			lines[i] = fmt.Sprintf("%s %d", includeMarker, len(incs))
			incs = append(incs, splitArgs(rest))
		case "match":
			f := strings.Fields(rest)
			switch {
			case len(f) == 1 && strings.EqualFold(f[0], "all"):
				// the library reads it as Host *
			case len(f) == 2 && strings.EqualFold(f[0], "host") && !matchKeywords[strings.ToLower(f[1])]:
				lines[i] = "Host " + strings.ReplaceAll(f[1], ",", " ")
				sc.warnings = append(sc.warnings, fmt.Sprintf("%s:%d: \"Match host %s\" is matched against the host as written, not its HostName as ssh does", sc.path, i+1, f[1]))
			default:
				lines[i] = "Host !*"
				sc.warnings = append(sc.warnings, fmt.Sprintf("%s:%d: \"Match %s\" is not supported; kuguri ignores the settings in that block (ssh may apply them)", sc.path, i+1, strings.Join(f, " ")))
			}
		}
	}
	return []byte(strings.Join(lines, "\n")), incs
}

// splitKeyword splits an ssh_config line into its keyword and the rest.
func splitKeyword(line string) (string, string) {
	s := strings.TrimLeft(line, " \t")
	if s == "" || s[0] == '#' {
		return "", ""
	}
	end := strings.IndexAny(s, " \t=")
	if end < 0 {
		return s, ""
	}
	rest := strings.TrimLeft(s[end:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	rest = strings.TrimSpace(rest)
	if j := strings.Index(rest, " #"); j >= 0 {
		rest = strings.TrimSpace(rest[:j])
	}
	return s[:end], rest
}

// splitArgs splits on whitespace, honouring double quotes.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
			have = true
		case (r == ' ' || r == '\t') && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// sshValue is one ssh_config value with where it was written.
type sshValue struct {
	Key, Value string
	File       string
	Line       int
}

// walk calls fn for every key/value that applies to alias, in the order ssh
// reads them, until fn returns true.
func (sc *sshConfig) walk(alias string, fn func(sshValue) bool) bool {
	if sc == nil || sc.cfg == nil {
		return false
	}
	alias = strings.ToLower(alias)
	for _, h := range sc.cfg.Hosts {
		if !h.Matches(alias) {
			continue
		}
		for _, n := range h.Nodes {
			kv, ok := n.(*ssh_config.KV)
			if !ok {
				continue
			}
			if strings.EqualFold(kv.Key, includeMarker) {
				for _, inc := range sc.includes[kv.Value] {
					if inc.walk(alias, fn) {
						return true
					}
				}
				continue
			}
			if fn(sshValue{Key: kv.Key, Value: kv.Value, File: sc.path, Line: kv.Pos().Line}) {
				return true
			}
		}
	}
	return false
}

// get returns the first value of key for alias (ssh's "first obtained value
// wins").
func (sc *sshConfig) get(alias, key string) (sshValue, bool) {
	var out sshValue
	found := sc.walk(alias, func(v sshValue) bool {
		if strings.EqualFold(v.Key, key) {
			out = v
			return true
		}
		return false
	})
	return out, found
}

// getAll returns every value of key for alias, in order.
func (sc *sshConfig) getAll(alias, key string) []sshValue {
	var out []sshValue
	sc.walk(alias, func(v sshValue) bool {
		if strings.EqualFold(v.Key, key) {
			out = append(out, v)
		}
		return false
	})
	return out
}

// first returns the first of any of keys for alias.
func (sc *sshConfig) first(alias string, keys ...string) (sshValue, bool) {
	var out sshValue
	found := sc.walk(alias, func(v sshValue) bool {
		for _, k := range keys {
			if strings.EqualFold(v.Key, k) {
				out = v
				return true
			}
		}
		return false
	})
	return out, found
}

// hasHost reports whether some non-wildcard Host line names alias.
func (sc *sshConfig) hasHost(alias string) bool {
	_, ok := sc.get(alias, "HostName")
	return ok
}

func (sc *sshConfig) allWarnings() []string {
	if sc == nil {
		return nil
	}
	out := append([]string(nil), sc.warnings...)
	keys := make([]string, 0, len(sc.includes))
	for k := range sc.includes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(keys[i])
		b, _ := strconv.Atoi(keys[j])
		return a < b
	})
	for _, k := range keys {
		for _, inc := range sc.includes[k] {
			out = append(out, inc.allWarnings()...)
		}
	}
	return out
}
