package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kuguri/kuguri/internal/sshserver"
	"github.com/kuguri/kuguri/profile"
)

// DefaultReviveAfter is how long a killed demo VPS stays down before it
// comes back on its own.
const DefaultReviveAfter = 3 * time.Second

// Options configures Start.
type Options struct {
	// Logger receives the sandbox's and the embedded servers' events; nil
	// discards them.
	Logger *slog.Logger
	// Dir is the directory for the sandbox's files (keys, known_hosts,
	// ssh_config, config.yaml). "" makes a fresh temporary directory, which
	// Close removes; a given Dir is left in place and Close removes only
	// the files the sandbox wrote into it.
	Dir string
	// ReviveAfter is how long KillVPS keeps the VPS down before it comes
	// back by itself; 0 means DefaultReviveAfter, negative means never
	// (call RestartVPS).
	ReviveAfter time.Duration
}

// Service is one thing the user can try through the demo's tunnels.
type Service struct {
	Profile string // the demo profile that carries it
	Forward string // the forward's name in that profile
	Listen  string // the forward's local address, 127.0.0.1:PORT
	Try     string // a command to run in another terminal
	About   string // what Try shows, in a few words
}

// Sandbox is a running demo: the SSH servers and services, and the config
// whose profiles reach them. Its methods are safe for concurrent use.
type Sandbox struct {
	// Config is the demo's configuration, loaded with profile.Load from
	// Dir/config.yaml and Dir/ssh_config, so (*profile.Config).Resolve works
	// on it as on a user's own.
	Config *profile.Config
	// Dir holds the sandbox's files.
	Dir string
	// Services lists what the user can try, in a stable order.
	Services []Service

	// Set at construction.
	logger      *slog.Logger
	ownDir      bool
	files       []string // written into Dir, for Close when !ownDir
	reviveAfter time.Duration
	vps         *sshserver.Server
	vpsAddr     string
	bastion     *sshserver.Server
	admin       *adminPage
	rdp, db     *tcpService
	closing     chan struct{}
	wg          sync.WaitGroup // Serve calls and revive timers

	mu     sync.Mutex
	closed bool          // guarded by mu
	cut    bool          // guarded by mu
	killed bool          // guarded by mu
	revive chan struct{} // guarded by mu; closing it cancels a pending revive
}

// Start builds and starts the sandbox. Cancelling ctx after Start returns
// does nothing; call Close.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sandbox{
		logger:      logger.With("component", "demo"),
		reviveAfter: opts.ReviveAfter,
		closing:     make(chan struct{}),
	}
	if s.reviveAfter == 0 {
		s.reviveAfter = DefaultReviveAfter
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "kuguri-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		s.Dir, s.ownDir = dir, true
	} else {
		dir, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		s.Dir = dir
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The services that live "on the VPS" (and, for RDP, on the Windows VM
	// behind it), really on loopback.
	if s.admin, err = startAdminPage(s.logger); err != nil {
		return nil, err
	}
	if s.rdp, err = startTCPService("rdp", s.logger, serveRDP); err != nil {
		return nil, err
	}
	if s.db, err = startTCPService("db", s.logger, serveEcho); err != nil {
		return nil, err
	}

	// The client's throwaway identity.
	idPath := filepath.Join(s.Dir, identityName)
	s.files = append(s.files, idPath, idPath+".pub")
	clientKey, err := writeIdentity(idPath)
	if err != nil {
		return nil, err
	}

	// The VPS: key-only, and reaches only the three targets a hardened
	// server's PermitOpen would allow (examples/server).
	targets := map[string]string{
		adminTarget: s.admin.Addr(),
		rdpTarget:   s.rdp.Addr(),
		dbTarget:    s.db.Addr(),
	}
	vpsKey, err := newHostKey()
	if err != nil {
		return nil, err
	}
	if s.vps, err = sshserver.New(sshserver.Config{
		HostKey:        vpsKey,
		AuthorizedKeys: []ssh.PublicKey{clientKey},
		Dial:           mapDial(targets, "demo VPS"),
		Logger:         s.logger.With("server", vpsAlias),
	}); err != nil {
		return nil, fmt.Errorf("demo: VPS: %w", err)
	}
	vpsAddr, err := s.serve(s.vps)
	s.vpsAddr = vpsAddr
	if err != nil {
		return nil, fmt.Errorf("demo: VPS: %w", err)
	}

	// The bastion: reaches only the VPS's SSH port.
	bastionKey, err := newHostKey()
	if err != nil {
		return nil, err
	}
	if s.bastion, err = sshserver.New(sshserver.Config{
		HostKey:        bastionKey,
		AuthorizedKeys: []ssh.PublicKey{clientKey},
		Dial:           mapDial(map[string]string{vpsAddr: vpsAddr}, "demo bastion"),
		Logger:         s.logger.With("server", bastionAlias),
	}); err != nil {
		return nil, fmt.Errorf("demo: bastion: %w", err)
	}
	bastionAddr, err := s.serve(s.bastion)
	if err != nil {
		return nil, fmt.Errorf("demo: bastion: %w", err)
	}

	// known_hosts holding both servers' keys, and the ssh_config that
	// names them.
	khPath := filepath.Join(s.Dir, knownHostsName)
	s.files = append(s.files, khPath)
	kh := knownHostsLine(vpsAddr, vpsKey.PublicKey()) + "\n" + knownHostsLine(bastionAddr, bastionKey.PublicKey()) + "\n"
	if err := writeFile(khPath, []byte(kh), 0o600); err != nil {
		return nil, err
	}
	scPath := filepath.Join(s.Dir, sshConfigName)
	s.files = append(s.files, scPath)
	if err := writeFile(scPath, []byte(sshConfigText(s.Dir, vpsAddr, bastionAddr)), 0o600); err != nil {
		return nil, err
	}

	// The profiles, on fixed free local ports so the banner can name them.
	ports, err := freeLoopbackPorts(5)
	if err != nil {
		return nil, err
	}
	profiles := []demoProfile{
		{name: "vps", comment: "the seed's VPS: admin UI, RDP to the Windows VM, the database", host: vpsAlias, fwds: []demoForward{
			{name: "admin", local: ports[0], remote: adminTarget},
			{name: "rdp", local: ports[1], remote: rdpTarget},
			{name: "db", local: ports[2], remote: dbTarget},
		}},
		{name: "vps-via-bastion", comment: "the same VPS through a jump host", host: vpsAlias, jump: []string{bastionAlias}, fwds: []demoForward{
			{name: "admin", local: ports[3], remote: adminTarget},
		}},
		{name: "socks", comment: "a SOCKS5 proxy that exits at the VPS", host: vpsAlias, fwds: []demoForward{
			{name: "socks", typ: "dynamic", local: ports[4]},
		}},
	}
	s.Services = []Service{
		{Profile: "vps", Forward: "admin", Listen: ports[0], Try: "curl http://" + ports[0] + "/",
			About: "the VPS's admin page (127.0.0.1:8443 on the VPS)"},
		{Profile: "vps", Forward: "rdp", Listen: ports[1], Try: "nc " + spaced(ports[1]),
			About: "the RDP stand-in on the Windows VM (10.0.0.5:3389) prints its banner"},
		{Profile: "vps", Forward: "db", Listen: ports[2], Try: "nc " + spaced(ports[2]),
			About: "the database stand-in (127.0.0.1:5432 on the VPS): type a line, it echoes"},
		{Profile: "vps-via-bastion", Forward: "admin", Listen: ports[3], Try: "curl http://" + ports[3] + "/",
			About: "the same admin page, through the bastion"},
		{Profile: "socks", Forward: "socks", Listen: ports[4], Try: "curl -x socks5h://" + ports[4] + " http://" + adminTarget + "/",
			About: "SOCKS5 exiting at the VPS: the admin page by its VPS-side address"},
	}
	cfgPath := filepath.Join(s.Dir, configName)
	s.files = append(s.files, cfgPath)
	if err := writeFile(cfgPath, []byte(configText(s.Dir, profiles)), 0o600); err != nil {
		return nil, err
	}
	cfg, err := profile.Load(profile.LoadOptions{
		File:      cfgPath,
		SSHConfig: scPath,
		Home:      s.Dir, // never the user's home, even for "~"
		Getenv:    func(string) string { return "" },
	})
	if err != nil {
		return nil, fmt.Errorf("demo: the generated config does not load: %w", err)
	}
	s.Config = cfg
	s.logger.Info("demo sandbox started", "dir", s.Dir, "vps", vpsAddr, "bastion", bastionAddr)
	return s, nil
}

// serve listens on a free loopback port and serves srv on it. It returns
// once srv has registered the listener (so that Kill finds it).
func (s *Sandbox) serve(srv *sshserver.Server) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		served <- srv.Serve(ln)
	}()
	// sshserver.Serve registers ln before it blocks but offers no signal
	// for it; Addr reports it once registered.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Addr() != addr {
		select {
		case err := <-served:
			return "", fmt.Errorf("serve %s: %w", addr, err)
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("serve %s: the server did not start", addr)
		}
		time.Sleep(time.Millisecond) // poll: sshserver has no ready signal
	}
	return addr, nil
}

// mapDial returns an sshserver Dial that reaches only the targets in m
// (written as a client asks for them), each at its real loopback address.
func mapDial(m map[string]string, who string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		real, ok := m[addr]
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a target of the demo (try %s)", who, addr, strings.Join(keys(m), ", "))
		}
		var d net.Dialer
		return d.DialContext(ctx, network, real)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// spaced turns "127.0.0.1:PORT" into "127.0.0.1 PORT" for nc.
func spaced(addr string) string {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h + " " + p
}

// freeLoopbackPorts picks n distinct free ports on 127.0.0.1.
func freeLoopbackPorts(n int) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for tries := 0; len(out) < n; tries++ {
		if tries > 10*n {
			return nil, errors.New("demo: cannot find enough free local ports")
		}
		a, err := freeLoopbackPort()
		if err != nil {
			return nil, err
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// VPSAddr is the demo VPS's SSH address (127.0.0.1:PORT).
func (s *Sandbox) VPSAddr() string { return s.vpsAddr }

// Banner is one short line for the TUI: what to try, and the fault keys.
func (s *Sandbox) Banner() string {
	try := ""
	if len(s.Services) > 0 {
		try = "try " + s.Services[0].Try + " in another terminal · "
	}
	return "demo sandbox: " + try + "x cut VPS network · K kill VPS"
}

// The fault switches below may block briefly (RestartVPS retries a busy
// port for a few seconds): call them from a tea.Cmd, not from Update.

// CutNetwork, while on, makes the demo VPS a silent black hole: it stops
// answering anything (keepalives included) without closing a connection,
// as when a phone's network vanishes. Off delivers what was held.
func (s *Sandbox) CutNetwork(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.cut == on {
		return
	}
	s.cut = on
	s.vps.Pause(on)
	s.logger.Info("demo VPS network", "cut", on)
}

// NetworkCut reports whether CutNetwork is on.
func (s *Sandbox) NetworkCut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

// VPSKilled reports whether the VPS is down after KillVPS.
func (s *Sandbox) VPSKilled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killed
}

// KillVPS crashes the demo VPS: its listener closes and every connection is
// reset. It comes back on the same address after Options.ReviveAfter (3s by
// default), or at once with RestartVPS. Killing a dead VPS is a no-op.
func (s *Sandbox) KillVPS() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("demo: sandbox closed")
	}
	if s.killed {
		return nil
	}
	s.vps.Kill()
	s.killed = true
	s.logger.Info("demo VPS killed", "revive_after", s.reviveAfter)
	if s.reviveAfter < 0 {
		return nil
	}
	cancel := make(chan struct{})
	s.revive = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(s.reviveAfter)
		defer t.Stop()
		select {
		case <-t.C:
			if err := s.RestartVPS(); err != nil {
				s.logger.Warn("demo VPS did not come back", "err", err)
			}
		case <-cancel:
		case <-s.closing:
		}
	}()
	return nil
}

// RestartVPS brings a killed VPS back now, on the same address and with the
// same host key. Restarting a running VPS is a no-op.
func (s *Sandbox) RestartVPS() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("demo: sandbox closed")
	}
	if !s.killed {
		return nil
	}
	if s.revive != nil {
		close(s.revive)
		s.revive = nil
	}
	if err := s.vps.Revive(); err != nil {
		return fmt.Errorf("demo: restart VPS: %w", err)
	}
	s.killed = false
	s.logger.Info("demo VPS back", "addr", s.vps.Addr())
	return nil
}

// Close stops the servers and services and removes the sandbox's files
// (the whole directory when Start made it). It is safe to call twice.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	var errs []error
	if s.bastion != nil {
		errs = append(errs, s.bastion.Close())
	}
	if s.vps != nil {
		errs = append(errs, s.vps.Close())
	}
	s.wg.Wait()
	if s.admin != nil {
		errs = append(errs, s.admin.Close())
	}
	if s.rdp != nil {
		errs = append(errs, s.rdp.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.ownDir {
		errs = append(errs, os.RemoveAll(s.Dir))
	} else {
		for _, f := range s.files {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
