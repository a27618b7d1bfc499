package securitytest

import (
	"context"
	"testing"
	"time"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel"
	"github.com/kuguri/kuguri/tunnel/api"
)

// running is a Manager run for one test, stopped at cleanup.
type running struct {
	*tunnel.Manager
	ctx context.Context
}

// runManager runs a Manager over cfg until the test ends and starts "vps".
func runManager(t *testing.T, cfg *profile.Config, opts tunnel.Options) running {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	m := tunnel.NewManager(cfg, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := m.Start(ctx, "vps"); err != nil {
		t.Fatal(err)
	}
	return running{m, ctx}
}

// ready waits (bounded) until "vps" is up or its first attempt failed.
func (r running) ready() (api.Profile, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second)
	defer cancel()
	return r.WaitReady(ctx, "vps")
}
