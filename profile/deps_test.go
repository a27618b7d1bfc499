package profile

import (
	"os/exec"
	"strings"
	"testing"
)

// profile must not depend on SSH, the TUI, the CLI, or the rest of kuguri.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"golang.org/x/crypto/",
		"github.com/spf13/cobra",
		"charm.land/",
		"github.com/charmbracelet/",
		"github.com/kuguri/kuguri/",
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/kuguri/kuguri/profile" || strings.HasPrefix(dep, "github.com/kuguri/kuguri/profile/") {
			continue
		}
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) || dep == strings.TrimSuffix(f, "/") {
				t.Errorf("profile depends on %s", dep)
			}
		}
	}
}
