//go:build !linux

package faulttest

import (
	"os"
	"runtime"
	"testing"
)

// The fault tests drive processes, /proc and network namespaces: Linux only.
func TestFaultTestsNeedLinux(t *testing.T) {
	msg := "fault tests run on linux only (GOOS=" + runtime.GOOS + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a skip here would hide a gap)")
	}
	t.Skip(msg)
}
