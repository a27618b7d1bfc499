//go:build unix

package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigPermissions: a config or ssh_config file that others can write
// is refused with a message naming it, like OpenSSH's StrictModes.
func TestConfigPermissions(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	sshCfg := filepath.Join(dir, "ssh_config")
	os.WriteFile(cfg, []byte("profiles:\n  vps: {host: vps}\n"), 0o600)
	os.WriteFile(sshCfg, []byte("Host vps\n  Port 2222\n"), 0o600)
	load := func() error {
		_, err := Load(LoadOptions{File: cfg, SSHConfig: sshCfg, Home: dir, Getenv: func(string) string { return "" }})
		return err
	}
	if err := load(); err != nil {
		t.Fatalf("0600 files: %v", err)
	}
	for _, tc := range []struct {
		file string
		mode os.FileMode
	}{{cfg, 0o666}, {cfg, 0o620}, {sshCfg, 0o646}} {
		os.Chmod(tc.file, tc.mode)
		err := load()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), "too open") {
			t.Errorf("%s at %#o: %v; want ErrInvalid naming the file and the permissions", filepath.Base(tc.file), tc.mode, err)
		}
		os.Chmod(tc.file, 0o600)
	}
	os.Chmod(cfg, 0o644) // readable by others is fine, as for OpenSSH
	if err := load(); err != nil {
		t.Errorf("0644 config: %v", err)
	}
	// ssh -F /dev/null: a device, not a file anyone can plant settings in.
	if _, err := Load(LoadOptions{File: cfg, SSHConfig: "/dev/null", Home: dir, Getenv: func(string) string { return "" }}); err != nil {
		t.Errorf("--ssh-config /dev/null: %v", err)
	}
}
