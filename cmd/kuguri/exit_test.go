package main

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/kuguri/kuguri/internal/control"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

func TestExitCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("profile \"vps\": hop 1 (vps): %w", err) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"usage", usageErrorf("bad"), 2},
		{"config invalid", wrap(profile.ErrInvalid), 2},
		{"config missing", wrap(profile.ErrNotFound), 2},
		{"config kind", api.Errorf(api.KindConfig, "x"), 2},
		{"socket in use", wrap(control.ErrInUse), 2},
		{"host key", wrap(api.ErrHostKey), 3},
		{"auth", wrap(api.ErrAuth), 4},
		{"network", wrap(api.ErrNetwork), 5},
		{"not running", wrap(control.ErrNotRunning), 5},
		{"forward", wrap(api.ErrForward), 6},
		{"rebuilt from socket", api.Errorf(api.KindAuth, "auth failed"), 4},
		{"child status", &exitStatus{7}, 7},
		{"sigint", interrupted{syscall.SIGINT}, 130},
		{"sigterm", interrupted{syscall.SIGTERM}, 0},
		{"wrapped sigint", fmt.Errorf("x: %w", interrupted{syscall.SIGINT}), 130},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}
