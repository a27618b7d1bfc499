package deptest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/kuguri/kuguri"

// forbidden lists, per package, the import path prefixes that must not appear
// among its transitive dependencies.
var forbidden = map[string][]string{
	mod + "/profile": {
		"golang.org/x/crypto/ssh", "github.com/spf13/cobra", "github.com/spf13/viper", "charm.land/", "github.com/charmbracelet/",
		mod + "/tunnel", mod + "/tui", mod + "/cmd", mod + "/internal/",
	},
	mod + "/tunnel": {
		"github.com/spf13/cobra", "github.com/spf13/viper", "charm.land/", "github.com/charmbracelet/",
		mod + "/tui", mod + "/cmd", mod + "/internal/control",
	},
	mod + "/tunnel/api": {
		"golang.org/x/crypto/ssh", "github.com/spf13/cobra", "github.com/spf13/viper", "charm.land/",
		mod + "/tui", mod + "/internal/", mod + "/profile",
	},
	mod + "/tui": {
		"golang.org/x/crypto/ssh", "github.com/spf13/cobra", "github.com/spf13/viper", mod + "/cmd",
		mod + "/tunnel", mod + "/profile",
	},
	mod + "/internal/control": {
		"golang.org/x/crypto/ssh", "github.com/spf13/cobra", "charm.land/", mod + "/tui",
	},
}

func TestDependencyDirection(t *testing.T) {
	for pkg, bad := range forbidden {
		t.Run(strings.TrimPrefix(pkg, mod+"/"), func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			n := 0
			for dec.More() {
				var p struct{ ImportPath string }
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				n++
				for _, b := range bad {
					if matches(p.ImportPath, b) && !allowed(p.ImportPath) {
						t.Errorf("%s depends on %s (forbidden: %s)", pkg, p.ImportPath, b)
					}
				}
			}
			if n < 2 {
				t.Fatalf("go list -deps %s listed %d packages: the check would be vacuous", pkg, n)
			}
		})
	}
}

// matches says whether path is the package pattern or below it; a pattern
// ending in "/" matches any path with that prefix.
func matches(path, pattern string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return path == pattern || strings.HasPrefix(path, pattern+"/")
}

// allowed are the leaves every layer may use although they sit under a
// forbidden prefix: the engine's plain-data API and the forward-type enum.
func allowed(path string) bool {
	return path == mod+"/tunnel/api" || path == mod+"/profile/forwardtype"
}

// stdlibOnly are the small packages that promise the standard library only
// (and no os/user, which fails under Termux).
var stdlibOnly = []string{mod + "/internal/netwatch", mod + "/internal/netenv", mod + "/internal/hooks", mod + "/profile/forwardtype"}

func TestStdlibOnly(t *testing.T) {
	for _, pkg := range stdlibOnly {
		t.Run(strings.TrimPrefix(pkg, mod+"/"), func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			n := 0
			for dec.More() {
				var p struct {
					ImportPath string
					Standard   bool
				}
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				n++
				if p.ImportPath == pkg {
					continue
				}
				if !p.Standard || p.ImportPath == "os/user" {
					t.Errorf("%s depends on %s", pkg, p.ImportPath)
				}
			}
			if n < 2 {
				t.Fatalf("go list -deps %s listed %d packages: the check would be vacuous", pkg, n)
			}
		})
	}
}
