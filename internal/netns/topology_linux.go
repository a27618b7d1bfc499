//go:build linux

package netns

import (
	"net"
	"strconv"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshdtest"
)

// The seed's topology, in three namespaces:
//
//	client 10.231.1.1 ---- 10.231.1.2 VPS 10.231.2.1 ---- 10.231.2.5 Windows
//	  ("the internet", c0/v0)        (private LAN, v1/w0)
//
// The VPS runs sshd on 10.231.1.2:22022 (and, with Options.Bastion, a second
// sshd on 10.231.1.2:2222 used as a jump host) and the services db
// (127.0.0.1:5432, echo) and admin (127.0.0.1:8080, HTTP) on its own
// loopback. Windows runs the RDP stand-in on 10.231.2.5:3389 (a banner).
// The client has a route to the LAN through the VPS, but the VPS does not
// forward (ip_forward is 0 in a fresh namespace), as a provider's private
// LAN would not: only SSH through the VPS reaches Windows.
const (
	ClientIP    = "10.231.1.1"
	VPSIP       = "10.231.1.2"
	VPSLANIP    = "10.231.2.1"
	WindowsIP   = "10.231.2.5"
	LANPrefix   = "10.231.2.0/24"
	Prefix      = 24
	ClientIf    = "c0" // the client's interface toward the VPS
	DBAddr      = "127.0.0.1:5432"
	AdminAddr   = "127.0.0.1:8080"
	RDPPort     = 3389
	SSHDPort    = 22022
	BastionPort = 2222

	// AdminBody is what the admin page serves.
	AdminBody = "<h1>kuguri test admin</h1>\n"
	// RDPBanner is what the RDP stand-in writes first.
	RDPBanner = "RDP-STANDIN windows-vm ready\r\n"
)

// RDPAddr is the Windows host's RDP stand-in, reachable from the VPS only.
var RDPAddr = net.JoinHostPort(WindowsIP, strconv.Itoa(RDPPort))

// Options configures NewTopology.
type Options struct {
	// AuthorizedKeys may log in (as the sshd's User) on the VPS's sshd and
	// the bastion.
	AuthorizedKeys []ssh.PublicKey
	// Bastion also starts a jump-host sshd on the VPS at BastionPort (at
	// LogLevel DEBUG1, so its log shows each forward it carries).
	Bastion bool
	// SSHDLogLevel is the VPS sshd's LogLevel (default VERBOSE: one
	// "Connection from" line per TCP connection).
	SSHDLogLevel string
}

// Topology is the running seed topology. Fields are set by NewTopology;
// ClientAddr changes with MoveClient. Use it from the test goroutine.
type Topology struct {
	Client, VPS, Windows *NS

	// ClientAddr is the client's current address.
	ClientAddr string

	// SSHD is the VPS's sshd on VPSIP:SSHDPort; Bastion the jump host on
	// VPSIP:BastionPort (nil without Options.Bastion).
	SSHD, Bastion *sshdtest.Server

	// DB (echo) and Admin (HTTP) listen on the VPS's loopback, RDP on the
	// Windows host.
	DB, Admin, RDP *Service
}

// NewTopology builds the three namespaces, starts sshd and the services,
// and tears everything down at cleanup. It skips (or fails under CI=true)
// without root, ip, nft or sshd.
func NewTopology(tb testing.TB, opts Options) *Topology {
	tb.Helper()
	Require(tb)
	sshdtest.Require(tb)
	t := &Topology{
		Client:     New(tb, "client"),
		VPS:        New(tb, "vps"),
		Windows:    New(tb, "win"),
		ClientAddr: ClientIP,
	}
	cidr := func(ip string) string { return ip + "/" + strconv.Itoa(Prefix) }
	Veth(tb, t.Client, ClientIf, cidr(ClientIP), t.VPS, "v0", cidr(VPSIP))
	Veth(tb, t.VPS, "v1", cidr(VPSLANIP), t.Windows, "w0", cidr(WindowsIP))
	t.Client.IP(tb, "route", "replace", LANPrefix, "via", VPSIP)

	t.DB = NewService(tb, t.VPS, "db", DBAddr, Echo)
	t.Admin = NewService(tb, t.VPS, "admin", AdminAddr, HTTPPage(AdminBody))
	t.RDP = NewService(tb, t.Windows, "rdp", RDPAddr, Banner(RDPBanner))

	t.SSHD = sshdtest.Start(tb, sshdtest.Options{
		Name:           "vps-sshd",
		NetNS:          t.VPS.Name,
		ListenAddress:  VPSIP,
		Port:           SSHDPort,
		AuthorizedKeys: opts.AuthorizedKeys,
		LogLevel:       opts.SSHDLogLevel,
	})
	if opts.Bastion {
		t.Bastion = sshdtest.Start(tb, sshdtest.Options{
			Name:           "bastion-sshd",
			NetNS:          t.VPS.Name,
			ListenAddress:  VPSIP,
			Port:           BastionPort,
			AuthorizedKeys: opts.AuthorizedKeys,
			LogLevel:       "DEBUG1",
		})
	}
	return t
}

// MoveClient gives the client a new address in the same subnet, the way a
// phone's address changes when it roams: the old address is removed (TCP
// connections bound to it go silent; nothing resets them) and newIP is
// added. The route to the LAN is restored.
func (t *Topology) MoveClient(tb testing.TB, newIP string) {
	tb.Helper()
	t.Client.IP(tb, "addr", "del", t.ClientAddr+"/"+strconv.Itoa(Prefix), "dev", ClientIf)
	t.Client.IP(tb, "addr", "add", newIP+"/"+strconv.Itoa(Prefix), "dev", ClientIf)
	t.Client.IP(tb, "route", "replace", LANPrefix, "via", VPSIP)
	t.ClientAddr = newIP
}
