package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/kuguri/kuguri/profile"
)

// JSON views of the configuration for `list --json` and `show --json`. Field
// names are part of the command-line contract: add, never rename.

type hopJSON struct {
	Name                  string   `json:"name"`
	HostName              string   `json:"hostname"`
	Port                  int      `json:"port"`
	User                  string   `json:"user"`
	IdentityFiles         []string `json:"identity_files"`
	IdentitiesOnly        bool     `json:"identities_only,omitempty"`
	IdentityAgent         string   `json:"identity_agent,omitempty"`
	CertificateFiles      []string `json:"certificate_files,omitempty"`
	ProxyCommand          string   `json:"proxy_command,omitempty"`
	KnownHostsFiles       []string `json:"known_hosts_files"`
	StrictHostKeyChecking string   `json:"strict_host_key_checking"`
	HostKeyAlias          string   `json:"host_key_alias,omitempty"`
	ConnectTimeout        string   `json:"connect_timeout"`
}

type forwardJSON struct {
	Name             string              `json:"name"`
	Type             profile.ForwardType `json:"type"`
	Listen           string              `json:"listen"`
	Target           string              `json:"target"`
	AllowNonLoopback bool                `json:"allow_non_loopback,omitempty"`
	Probe            bool                `json:"probe,omitempty"`
	// SOCKS login of a dynamic forward: the user and where the password
	// comes from ("env:VAR" or "file:PATH"), never the password itself.
	SOCKSUser     string `json:"socks_user,omitempty"`
	SOCKSPassword string `json:"socks_password_from,omitempty"`
}

type settingsJSON struct {
	KeepaliveInterval string `json:"keepalive_interval"`
	KeepaliveCountMax int    `json:"keepalive_count_max"`
	ConnectTimeout    string `json:"connect_timeout"`
	ReconnectInitial  string `json:"reconnect_initial"`
	ReconnectMax      string `json:"reconnect_max"`
	IdleTimeout       string `json:"idle_timeout,omitempty"`
	ProbeInterval     string `json:"probe_interval,omitempty"`
}

type profileJSON struct {
	Name       string        `json:"name"`
	Hops       []hopJSON     `json:"hops"`
	Forwards   []forwardJSON `json:"forwards"`
	OnDemand   bool          `json:"on_demand,omitempty"`
	Settings   *settingsJSON `json:"settings,omitempty"`
	SSHCommand string        `json:"ssh_command,omitempty"`
	Warnings   []string      `json:"warnings,omitempty"`
	Error      string        `json:"error,omitempty"`
}

func durText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func hopView(h profile.Hop) hopJSON {
	return hopJSON{
		Name:                  h.Name,
		HostName:              h.HostName,
		Port:                  h.Port,
		User:                  h.User,
		IdentityFiles:         nonNil(h.IdentityFiles),
		IdentitiesOnly:        h.IdentitiesOnly,
		IdentityAgent:         h.IdentityAgent,
		CertificateFiles:      h.CertificateFiles,
		ProxyCommand:          h.ProxyCommand,
		KnownHostsFiles:       nonNil(h.KnownHostsFiles),
		StrictHostKeyChecking: h.StrictHostKeyChecking,
		HostKeyAlias:          h.HostKeyAlias,
		ConnectTimeout:        durText(h.ConnectTimeout),
	}
}

func forwardView(f profile.Forward) forwardJSON {
	var from string
	switch {
	case f.SOCKSPasswordEnv != "":
		from = "env:" + f.SOCKSPasswordEnv
	case f.SOCKSPasswordFile != "":
		from = "file:" + f.SOCKSPasswordFile
	}
	return forwardJSON{
		SOCKSUser:        f.SOCKSUser,
		SOCKSPassword:    from,
		Name:             f.Name,
		Type:             f.Type,
		Listen:           f.Listen(),
		Target:           f.Target(),
		AllowNonLoopback: f.AllowNonLoopback,
		Probe:            f.Probe,
	}
}

// resolvedView is the full JSON view of a resolved profile.
func resolvedView(r *profile.Resolved, withSettings bool) profileJSON {
	p := profileJSON{Name: r.Name, OnDemand: r.OnDemand, Warnings: r.Warnings}
	for _, h := range r.Hops {
		p.Hops = append(p.Hops, hopView(h))
	}
	p.Forwards = []forwardJSON{}
	for _, f := range r.Forwards {
		p.Forwards = append(p.Forwards, forwardView(f))
	}
	if withSettings {
		s := r.Settings
		p.Settings = &settingsJSON{
			KeepaliveInterval: durText(s.KeepaliveInterval),
			KeepaliveCountMax: s.KeepaliveCountMax,
			ConnectTimeout:    durText(s.ConnectTimeout),
			ReconnectInitial:  durText(s.Reconnect.Initial),
			ReconnectMax:      durText(s.Reconnect.Max),
			IdleTimeout:       durText(s.IdleTimeout),
			ProbeInterval:     durText(s.ProbeInterval),
		}
		p.SSHCommand = profile.ShellJoin(r.SSHCommand())
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// forwardLine is the one-line human form of a configured forward.
func forwardLine(f profile.Forward) string {
	if f.Type == profile.Remote {
		return describeForward(f.Type, f.Remote, f.Local)
	}
	return describeForward(f.Type, f.Local, f.Remote)
}

// describeForward is "LISTEN -> TARGET", "server LISTEN -> TARGET" for a
// remote forward (it listens on the server), "LISTEN (SOCKS5)" for a
// dynamic one.
func describeForward(t profile.ForwardType, listen, target string) string {
	switch t {
	case profile.Dynamic:
		return listen + " (SOCKS5)"
	case profile.Remote:
		return "server " + listen + " -> " + target
	}
	return listen + " -> " + target
}

// hopChain is "bastion -> vps".
func hopChain(hops []profile.Hop) string {
	s := ""
	for i, h := range hops {
		if i > 0 {
			s += " -> "
		}
		s += h.Name
	}
	return s
}
