package tunnel

import (
	"context"
	"testing"
	"time"

	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

func TestReloadRestartsOnlyChanged(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	e.add(&profile.Resolved{Name: "a", Hops: []profile.Hop{hopFor("a", srv.addr)}})
	e.add(&profile.Resolved{Name: "b", Hops: []profile.Hop{hopFor("b", srv.addr)}})
	m := e.run()
	startReady(t, m, "a")
	startReady(t, m, "b")
	supOf := func(n string) *supervisor {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.entries[n].sup
	}
	a0, b0 := supOf("a"), supOf("b")
	// b changes, a does not.
	changed := *e.profiles["b"]
	changed.Settings.KeepaliveCountMax = 5
	e.profiles["b"] = &changed
	m.Reload(e.config())
	waitFor(t, 5*time.Second, "b restarted", func() bool {
		s := supOf("b")
		return s != b0 && profState(m, "b").State == api.Up
	})
	if supOf("a") != a0 || profState(m, "a").State != api.Up {
		t.Fatal("unchanged profile a was restarted")
	}
	// A removed profile stops and leaves the snapshot.
	delete(e.profiles, "a")
	m.Reload(e.config())
	waitFor(t, 5*time.Second, "a gone", func() bool {
		s, _ := m.Snapshot(context.Background())
		_, ok := s.Find("a")
		return !ok
	})
	<-a0.done
}
