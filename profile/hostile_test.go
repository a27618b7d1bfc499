package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTenThousandProfiles: a config with 10,000 profiles (each with a
// forward, so the duplicate-listener check sees them all) loads and
// resolves in reasonable time. The bound is generous: it catches quadratic
// work, not a slow machine.
func TestTenThousandProfiles(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("profiles:\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "  p%d:\n    host: h%d.example\n    forwards: [\"%d:127.0.0.1:80\"]\n", i, i, 20000+i)
	}
	file := filepath.Join(dir, "config.yaml")
	os.WriteFile(file, []byte(b.String()), 0o600)
	start := time.Now()
	cfg, err := Load(LoadOptions{File: file, Home: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if n := len(cfg.Names()); n != 10000 {
		t.Fatalf("%d profiles, want 10000", n)
	}
	for _, name := range []string{"p0", "p5000", "p9999"} {
		r, err := cfg.Resolve(name)
		if err != nil || r.Target().HostName != "h"+name[1:]+".example" {
			t.Errorf("Resolve(%s) = %+v, %v", name, r, err)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("10,000 profiles took %s", d)
	}

	// The same with one duplicate listener at the end: found, named.
	fmt.Fprintf(&b, "  dup:\n    host: h.example\n    forwards: [\"20000:127.0.0.1:80\"]\n")
	os.WriteFile(file, []byte(b.String()), 0o600)
	_, err = Load(LoadOptions{File: file, Home: dir, Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "dup") || !strings.Contains(err.Error(), "p0") {
		t.Errorf("duplicate listener among 10,001 profiles: %v", err)
	}
}
