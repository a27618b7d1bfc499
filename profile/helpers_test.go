package profile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// testEnv is a hermetic environment: a fresh home and $USER=tester.
type testEnv struct {
	home string
	env  map[string]string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	home := t.TempDir()
	return &testEnv{home: home, env: map[string]string{"HOME": home, "USER": "tester"}}
}

func (e *testEnv) getenv(k string) string { return e.env[k] }

func (e *testEnv) opts(file, sshConfig string) LoadOptions {
	return LoadOptions{File: file, SSHConfig: sshConfig, Getenv: e.getenv, Home: e.home}
}

// write writes content to dir/name (creating dirs) and returns the path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadYAML writes cfg (and, when not "", an ssh_config) into the env's home
// and loads it.
func (e *testEnv) load(t *testing.T, cfg, sshConfig string) (*Config, error) {
	t.Helper()
	file := write(t, e.home, "config.yaml", cfg)
	sc := ""
	if sshConfig != "" {
		sc = write(t, e.home, ".ssh/config", sshConfig)
	}
	return Load(e.opts(file, sc))
}

func (e *testEnv) mustLoad(t *testing.T, cfg, sshConfig string) *Config {
	t.Helper()
	c, err := e.load(t, cfg, sshConfig)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// fieldErrors flattens a joined error into its FieldErrors; it fails the
// test on anything else.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not a *FieldError", err, err)
		}
		out = append(out, fe)
	}
	walk(err)
	return out
}
