//go:build linux

package faulttest

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kuguri/kuguri/internal/netns"
	"github.com/kuguri/kuguri/tunnel/api"
)

// The seed's promise: from the client, the Windows host is unreachable
// directly and reachable through kuguri, and so are the VPS's loopback
// services.
func TestTopologyThroughKuguri(t *testing.T) {
	r := topologyRig(t, netns.Options{})
	if c, err := r.client.Dial(netns.RDPAddr, 3*time.Second); err == nil {
		c.Close()
		t.Fatal("the client reaches the Windows host without kuguri: the topology is wrong")
	}
	cfg := configYAML(r.vps("vps",
		local("db", netns.DBAddr),
		local("admin", netns.AdminAddr),
		local("rdp", netns.RDPAddr),
	))
	k := r.up(cfg, "vps")
	p := k.profile("vps")
	if p.Reconnects != 0 || p.LastError != "" {
		t.Errorf("fresh profile: reconnects %d, last_error %q", p.Reconnects, p.LastError)
	}

	rdp := forward(t, p, "rdp")
	if rdp.Target != netns.RDPAddr || rdp.Type.String() != "local" {
		t.Errorf("rdp forward %+v", rdp)
	}
	c := r.mustDial(rdp.Listen)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	banner := make([]byte, len(netns.RDPBanner))
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != netns.RDPBanner {
		t.Fatalf("RDP through kuguri: %q, %v", banner, err)
	}
	c.Close()

	r.roundTrip(forward(t, p, "db").Listen, strings.Repeat("select 1; ", 10000))

	body, err := httpGet(r.mustDial(forward(t, p, "admin").Listen))
	if err != nil || body != netns.AdminBody {
		t.Fatalf("admin page through kuguri: %q, %v", body, err)
	}

	// The counters in status --json saw that traffic.
	k.waitProfile("vps", 10*time.Second, "counting the traffic", func(p api.Profile) bool {
		rdp, db := forward(t, p, "rdp"), forward(t, p, "db")
		return rdp.Total >= 1 && rdp.BytesIn >= uint64(len(netns.RDPBanner)) &&
			db.Total >= 1 && db.BytesOut >= 100000 && db.BytesIn >= 100000 && db.Active == 0
	})
}

// A link that drops every packet silently is found dead within
// keepalive_interval * keepalive_count_max (+1s), and healed once the
// network comes back.
func TestBlackHoleNoticedAndHealed(t *testing.T) {
	r := topologyRig(t, netns.Options{})
	k := r.up(configYAML(r.vps("vps", local("db", netns.DBAddr))), "vps")
	db := forward(t, k.profile("vps"), "db").Listen
	r.roundTrip(db, "before the black hole")
	// Let a keepalive round trip happen so rtt_ms is known.
	k.waitProfile("vps", 10*time.Second, "with an RTT", func(p api.Profile) bool { return p.RTTMillis > 0 })

	// A client in the middle of a conversation when the network dies.
	held := r.mustDial(db)
	defer held.Close()
	if _, err := io.WriteString(held, "ping"); err != nil {
		t.Fatal(err)
	}
	_ = held.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(held, make([]byte, 4)); err != nil {
		t.Fatalf("held client before the black hole: %v", err)
	}

	start := time.Now()
	r.topo.VPS.BlackHole(t)
	bound := keepaliveInterval*keepaliveCountMax + time.Second
	p := k.waitProfile("vps", bound+20*time.Second, "no longer up", func(p api.Profile) bool { return p.State != api.Up })
	t.Logf("dead link noticed %v after the black hole: %s", p.Since.Sub(start).Round(time.Millisecond), p.LastError)
	if took := p.Since.Sub(start); took > bound {
		t.Errorf("dead link noticed after %v (state %s since %s), want within %v", took, p.State, p.Since.Format(time.RFC3339Nano), bound)
	}
	if p.State != api.Reconnecting || p.ErrorKind != api.KindNetwork || !strings.Contains(p.LastError, "keepalive") {
		t.Errorf("after the black hole: state %s, kind %q, last_error %q; want reconnecting after a keepalive timeout", p.State, p.ErrorKind, p.LastError)
	}
	if f := forward(t, p, "db"); f.State != api.Waiting || f.Listen != db {
		t.Errorf("forward during the outage: %+v, want waiting on %s", f, db)
	}
	// Its channel died with the link: the held client is told (EOF or an
	// error) instead of waiting forever on a dead tunnel.
	_ = held.SetReadDeadline(time.Now().Add(15 * time.Second))
	if n, err := held.Read(make([]byte, 1)); err == nil {
		t.Errorf("held client read %d bytes from a dead link", n)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("held client still open 15s after the link was declared dead")
	}

	r.topo.VPS.ClearBlackHole(t)
	p = k.waitProfile("vps", 60*time.Second, "up again", func(p api.Profile) bool { return p.State == api.Up })
	if p.Reconnects != 1 {
		t.Errorf("reconnects %d after one outage, want 1", p.Reconnects)
	}
	r.roundTrip(db, "after the black hole")
}

// A jump host that dies while the target lives breaks the chain; once it is
// back the whole chain is dialled again and traffic flows.
func TestJumpHostDies(t *testing.T) {
	r := topologyRig(t, netns.Options{Bastion: true})
	bastion := r.vps("bastion")
	bastion.Port = netns.BastionPort
	vps := r.vps("vps", local("db", netns.DBAddr))
	vps.Jump = []string{"bastion"}
	k := r.up(configYAML(bastion, vps), "vps")
	db := forward(t, k.profile("vps"), "db").Listen
	r.roundTrip(db, "through the bastion")
	hopLine := "target " + netns.VPSIP + " port 22022" // the bastion's DEBUG1 direct-tcpip line
	r.topo.Bastion.WaitLog(t, hopLine, 10*time.Second)
	if n := countLog(r.topo.Bastion, hopLine); n != 1 {
		t.Fatalf("bastion carried %d hops to the VPS, want 1", n)
	}

	r.topo.Bastion.Kill()
	p := k.waitProfile("vps", 15*time.Second, "reconnecting", func(p api.Profile) bool { return p.State == api.Reconnecting })
	if p.ErrorKind != api.KindNetwork {
		t.Errorf("with the bastion dead: kind %q, last_error %q; want a network error", p.ErrorKind, p.LastError)
	}
	if !r.sshd.Running() {
		t.Fatal("the VPS's sshd died with the bastion")
	}

	r.topo.Bastion.Restart()
	p = k.waitProfile("vps", 60*time.Second, "up again", func(p api.Profile) bool { return p.State == api.Up })
	if p.Reconnects < 1 {
		t.Errorf("reconnects %d, want at least 1", p.Reconnects)
	}
	r.roundTrip(db, "through the restarted bastion")
	if n := countLog(r.topo.Bastion, hopLine); n < 2 {
		t.Errorf("bastion carried %d hops to the VPS, want a second one after its restart", n)
	}
	if n := countLog(r.sshd, "Accepted publickey"); n < 2 {
		t.Errorf("the VPS's sshd saw %d logins, want a second one through the restarted bastion", n)
	}
}

// When the client's address changes (a phone roaming), the old TCP
// connection goes silent; netwatch notices the new source address and the
// link is redialled long before the keepalive window (60s x 3) would find it
// dead.
func TestClientAddressChange(t *testing.T) {
	r := topologyRig(t, netns.Options{})
	p := r.vps("vps", local("db", netns.DBAddr))
	p.KeepaliveInterval = 60 * time.Second
	p.KeepaliveCountMax = 3
	k := r.up(configYAML(p), "vps")
	db := forward(t, k.profile("vps"), "db").Listen
	r.roundTrip(db, "from the first address")
	const newIP = "10.231.1.3"
	if strings.Contains(r.sshd.Log(), "Connection from "+newIP) {
		t.Fatal("sshd saw the new address before the move")
	}

	start := time.Now()
	r.topo.MoveClient(t, newIP)
	// The window that could explain a reconnect without netwatch is 180s;
	// netwatch polls every few seconds and then probes for at most 5s.
	const quick = 45 * time.Second
	got := k.waitProfile("vps", quick, "up again after the address change", func(p api.Profile) bool {
		return p.State == api.Up && p.Reconnects >= 1
	})
	t.Logf("reconnected %v after the address change (reconnects %d)", got.Since.Sub(start).Round(time.Millisecond), got.Reconnects)
	if !strings.Contains(r.sshd.Log(), "Connection from "+newIP) {
		t.Errorf("sshd has no connection from the new address %s:\n%s", newIP, r.sshd.Log())
	}
	r.roundTrip(db, "from the new address")
}
