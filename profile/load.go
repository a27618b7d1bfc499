package profile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadOptions says where Load looks. Every field is optional.
type LoadOptions struct {
	// File is the config file (--config); "" means DefaultPath.
	File string
	// SSHConfig is the ssh_config file (--ssh-config); "" means the config's
	// top-level ssh_config:, else ~/.ssh/config (absent is fine).
	SSHConfig string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Home is the user's home directory; "" means $HOME, else
	// os.UserHomeDir (never os/user, which fails under Termux).
	Home string
}

// maxConfigSize bounds the config file read into memory.
const maxConfigSize = 1 << 20

func (o LoadOptions) env() (getenv func(string) string, home string) {
	getenv = o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	home = o.Home
	if home == "" {
		home = getenv("HOME")
	}
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return getenv, home
}

// DefaultPath is where the config lives when no --config is given:
// $KUGURI_CONFIG, else $XDG_CONFIG_HOME/kuguri/config.yaml, else
// HOME/.config/kuguri/config.yaml. getenv nil means os.Getenv; home "" means
// $HOME.
func DefaultPath(getenv func(string) string, home string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("KUGURI_CONFIG"); p != "" {
		return expandTilde(p, home)
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "kuguri", "config.yaml")
	}
	if home == "" {
		home = getenv("HOME")
	}
	return filepath.Join(home, ".config", "kuguri", "config.yaml")
}

// Load reads, decodes and validates the config file named by opts (see
// LoadOptions and DefaultPath), and reads the ssh_config file it uses.
//
// Every problem found is reported at once: the error is an errors.Join of
// *FieldError values, each matching ErrInvalid. A config file that does not
// exist gives an error matching both ErrNotFound and ErrInvalid. Problems
// that do not stop loading (an ssh_config Match block the parser cannot
// read) are in Config.Warnings.
func Load(opts LoadOptions) (*Config, error) {
	getenv, home := opts.env()
	path := opts.File
	if path == "" {
		path = DefaultPath(getenv, home)
	} else {
		path = expandTilde(path, home)
	}
	data, err := readLimited(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &FieldError{File: path, Msg: "config file does not exist", Err: ErrNotFound}
		}
		return nil, &FieldError{File: path, Msg: err.Error(), Err: err}
	}
	return load(path, data, opts, getenv, home)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory, not a file")
	}
	if err := checkPerms(st); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigSize)
	}
	return data, nil
}

// Names returns the profile names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the named profile (exact, case-sensitive name). An unknown
// name gives a *FieldError listing the known ones, matching ErrInvalid and
// ErrUnknownProfile.
func (c *Config) Lookup(name string) (*Profile, error) {
	if p, ok := c.Profiles[name]; ok && p != nil {
		return p, nil
	}
	known := c.Names()
	msg := "no such profile"
	if len(known) == 0 {
		msg += " (the config has no profiles)"
	} else {
		q := make([]string, len(known))
		for i, k := range known {
			q[i] = fmt.Sprintf("%q", k)
		}
		msg += "; known profiles: " + strings.Join(q, ", ")
	}
	return nil, &FieldError{File: c.File, Profile: name, Msg: msg, Err: ErrUnknownProfile}
}

// expandTilde expands a leading "~" or "~/" to home.
func expandTilde(p, home string) string {
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") || (filepath.Separator == '\\' && strings.HasPrefix(p, `~\`)) {
		return filepath.Join(home, p[2:])
	}
	return p
}
