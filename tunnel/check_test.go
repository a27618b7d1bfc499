package tunnel

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kuguri/kuguri/internal/sshdtest"
	"github.com/kuguri/kuguri/profile"
	"github.com/kuguri/kuguri/tunnel/api"
)

func TestCheck(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	echo := sshdtest.EchoServer(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	r := &profile.Resolved{Name: "vps", Settings: testSettings(), Hops: []profile.Hop{hopFor("vps", srv.addr)},
		Forwards: []profile.Forward{localFwd("ok", echo), localFwd("dead", dead), {Name: "socks", Type: profile.Dynamic, Local: "127.0.0.1:0"}}}
	rep, err := Check(context.Background(), r, e.opts)
	if !errors.Is(err, api.ErrForward) || !strings.Contains(err.Error(), `"dead"`) {
		t.Fatalf("err %v, want ErrForward naming the dead forward", err)
	}
	if len(rep.Hops) != 1 || rep.Hops[0].Err != nil || rep.Hops[0].Handshake <= 0 {
		t.Fatalf("hops %+v", rep.Hops)
	}
	got := []ProbeResult{rep.Forwards[0].Result, rep.Forwards[1].Result, rep.Forwards[2].Result}
	if got[0] != Reachable || got[1] != Refused || got[2] != NotProbed {
		t.Fatalf("results %v", got)
	}
	srv.RefuseChannels(true)
	rep, err = Check(context.Background(), r, e.opts)
	if !errors.Is(err, api.ErrForward) || rep.Forwards[0].Result != Prohibited {
		t.Fatalf("refusing server: %v %+v", err, rep.Forwards)
	}

	// A host-key failure is reported on its hop.
	e.setup.keys[srv.addr] = newSigner(t).PublicKey()
	rep, err = Check(context.Background(), r, e.opts)
	if !errors.Is(err, api.ErrHostKey) || rep.Hops[0].Err == nil || rep.Forwards[0].Result != NotProbed {
		t.Fatalf("changed key: %v %+v", err, rep)
	}
}

func TestKickProbesAndReconnectsAtOnce(t *testing.T) {
	e := newEnv(t)
	srv := e.server()
	set := testSettings()
	set.KeepaliveInterval = 2 * time.Second // the regular deadline would take 6s
	e.add(&profile.Resolved{Name: "vps", Settings: set, Hops: []profile.Hop{hopFor("vps", srv.addr)}})
	m := e.run()
	startReady(t, m, "vps")
	// A kick on a healthy link changes nothing.
	before := srv.keepalive.Load()
	m.Kick("vps")
	waitFor(t, 3*time.Second, "kick probe", func() bool { return srv.keepalive.Load() > before })
	if p := profState(m, "vps"); p.State != api.Up || p.Reconnects != 0 {
		t.Fatalf("healthy kick: %v reconnects %d", p.State, p.Reconnects)
	}
	// A kick on a black-holed link reconnects within the kick wait.
	srv.Pause(true)
	start := time.Now()
	m.Kick("vps")
	waitFor(t, 4*time.Second, "link dropped", func() bool { return profState(m, "vps").State != api.Up })
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("kick took %v", took)
	}
	if p := profState(m, "vps"); !strings.Contains(p.LastError, "network change") {
		t.Fatalf("last error %q", p.LastError)
	}
	srv.Pause(false)
	srv.DropAll()
	waitFor(t, 10*time.Second, "back up", func() bool { return profState(m, "vps").State == api.Up })
}
