package demo

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// File names inside the sandbox directory.
const (
	identityName   = "id_ed25519"
	knownHostsName = "known_hosts"
	sshConfigName  = "ssh_config"
	configName     = "config.yaml"
)

// The Host aliases the demo's ssh_config defines.
const (
	vpsAlias     = "demo-vps"
	bastionAlias = "demo-bastion"
	demoUser     = "demo"
)

// newHostKey returns a fresh in-memory ed25519 host key.
func newHostKey() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demo: host key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// writeIdentity generates the client's throwaway ed25519 key, writes it in
// OpenSSH format (unencrypted, 0600) to path and its public half to
// path.pub, and returns the public key.
func writeIdentity(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demo: identity key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "kuguri demo (throwaway)")
	if err != nil {
		return nil, fmt.Errorf("demo: identity key: %w", err)
	}
	if err := writeFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("demo: identity key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " kuguri demo (throwaway)\n"
	if err := writeFile(path+".pub", []byte(line), 0o644); err != nil {
		return nil, err
	}
	return sshPub, nil
}

// knownHostsLine is "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
func knownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
}

// sshConfigText is the demo's ssh_config: one Host block per server, every
// path explicit, no agent, so nothing of the user's own setup is read.
func sshConfigText(dir, vpsAddr, bastionAddr string) string {
	var b strings.Builder
	b.WriteString("# kuguri demo sandbox: generated, removed when the demo ends.\n")
	for _, h := range []struct{ alias, addr string }{{vpsAlias, vpsAddr}, {bastionAlias, bastionAddr}} {
		host, port, _ := net.SplitHostPort(h.addr)
		fmt.Fprintf(&b, "\nHost %s\n", h.alias)
		fmt.Fprintf(&b, "  HostName %s\n", host)
		fmt.Fprintf(&b, "  Port %s\n", port)
		fmt.Fprintf(&b, "  User %s\n", demoUser)
		fmt.Fprintf(&b, "  IdentityFile %s\n", sshQuote(filepath.Join(dir, identityName)))
		b.WriteString("  IdentitiesOnly yes\n")
		b.WriteString("  IdentityAgent none\n")
		fmt.Fprintf(&b, "  UserKnownHostsFile %s\n", sshQuote(filepath.Join(dir, knownHostsName)))
		b.WriteString("  StrictHostKeyChecking yes\n")
	}
	return b.String()
}

// sshQuote quotes an ssh_config argument when it holds spaces.
func sshQuote(s string) string {
	if strings.ContainsAny(s, " \t") {
		return `"` + s + `"`
	}
	return s
}

// yamlQuote is a single-quoted YAML scalar (no escapes: safe for Windows
// paths).
func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// demoForward is one forward of a demo profile.
type demoForward struct {
	name, typ, local, remote string
}

// demoProfile is one profile of the demo config.
type demoProfile struct {
	name    string
	comment string
	host    string
	jump    []string
	fwds    []demoForward
}

// configText renders the demo's config.yaml.
func configText(dir string, profiles []demoProfile) string {
	var b strings.Builder
	b.WriteString("# kuguri demo sandbox: generated, removed when the demo ends.\n")
	b.WriteString("# Everything below runs on 127.0.0.1; the remote addresses are those a real\n")
	b.WriteString("# config for the seed's VPS would use, mapped by the demo VPS to local services.\n")
	fmt.Fprintf(&b, "ssh_config: %s\n", yamlQuote(filepath.Join(dir, sshConfigName)))
	b.WriteString("defaults:\n")
	b.WriteString("  keepalive_interval: 2s      # short, so a dead link shows within seconds\n")
	b.WriteString("  keepalive_count_max: 2\n")
	b.WriteString("  connect_timeout: 5s\n")
	b.WriteString("  reconnect: {initial: 500ms, max: 5s}\n")
	b.WriteString("profiles:\n")
	for _, p := range profiles {
		fmt.Fprintf(&b, "  %s:   # %s\n", p.name, p.comment)
		fmt.Fprintf(&b, "    host: %s\n", p.host)
		if len(p.jump) > 0 {
			fmt.Fprintf(&b, "    jump: [%s]\n", strings.Join(p.jump, ", "))
		}
		b.WriteString("    forwards:\n")
		for _, f := range p.fwds {
			fmt.Fprintf(&b, "      - name: %s\n", f.name)
			if f.typ != "" {
				fmt.Fprintf(&b, "        type: %s\n", f.typ)
			}
			fmt.Fprintf(&b, "        local: %s\n", f.local)
			if f.remote != "" {
				fmt.Fprintf(&b, "        remote: %s\n", f.remote)
			}
		}
	}
	return b.String()
}

// writeFile creates path (failing if it exists) with mode perm.
func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1 and
// releases it, for a forward's fixed local port.
func freeLoopbackPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: pick a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("demo: pick a free port: %w", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
