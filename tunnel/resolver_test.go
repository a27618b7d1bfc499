package tunnel

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

// TestResolverUsedForFirstHop: the first hop's host name goes through
// Options.Resolver (Termux has no /etc/resolv.conf; netenv builds one from
// $PREFIX/etc/resolv.conf or the config's resolver:).
func TestResolverUsedForFirstHop(t *testing.T) {
	var asked atomic.Int32
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		asked.Add(1)
		return nil, errors.New("fake resolver: no server")
	}}
	r := &profile.Resolved{
		Name: "vps",
		Hops: []profile.Hop{{Name: "vps", HostName: "vps.kuguri-resolver.test", Port: 22022, User: "me",
			ConnectTimeout: 2 * time.Second, StrictHostKeyChecking: "yes"}},
		Settings: profile.Settings{KeepaliveInterval: time.Second, KeepaliveCountMax: 3, ConnectTimeout: 2 * time.Second},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Check(ctx, r, Options{Resolver: res, Getenv: func(string) string { return "" }})
	if !errors.Is(err, api.ErrNetwork) {
		t.Fatalf("Check = %v, want a network error", err)
	}
	if asked.Load() == 0 {
		t.Fatalf("the configured resolver was not asked (err: %v)", err)
	}
	if !strings.Contains(err.Error(), "vps.kuguri-resolver.test") {
		t.Errorf("error does not name the host: %v", err)
	}
}
