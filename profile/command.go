package profile

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SSHCommand returns the OpenSSH command line equivalent to r, e.g.
//
//	ssh -J alice@bastion:2222 -p 22022 -i /home/alice/.ssh/id -L 127.0.0.1:5432:127.0.0.1:5432
//	    -D 127.0.0.1:1080 -R 127.0.0.1:9000:127.0.0.1:3000
//	    -o ServerAliveInterval=15 -o ServerAliveCountMax=3 alice@vps.example.net
//
// Jump hops are given as user@host:port (their other settings come from
// ssh_config as usual); options that equal OpenSSH's defaults are left out.
// Print it with ShellJoin.
func (r *Resolved) SSHCommand() []string {
	if r == nil || len(r.Hops) == 0 {
		return []string{"ssh"}
	}
	t := r.Target()
	args := []string{"ssh"}
	if len(r.Hops) > 1 {
		jumps := make([]string, 0, len(r.Hops)-1)
		for _, h := range r.Hops[:len(r.Hops)-1] {
			jumps = append(jumps, hopURL(h))
		}
		// A ProxyCommand on the first jump host cannot be said on one
		// line; ssh takes it from that host's ssh_config entry, as kuguri did.
		args = append(args, "-J", strings.Join(jumps, ","))
	} else if t.ProxyCommand != "" {
		args = append(args, "-o", "ProxyCommand="+t.ProxyCommand)
	}
	if t.Port != 22 && t.Port != 0 {
		args = append(args, "-p", strconv.Itoa(t.Port))
	}
	if !t.IdentityFilesDefault {
		for _, f := range t.IdentityFiles {
			args = append(args, "-i", f)
		}
	}
	for _, f := range r.Forwards {
		switch f.Type {
		case Local:
			args = append(args, "-L", f.Spec())
		case Dynamic:
			args = append(args, "-D", f.Spec())
		case Remote:
			args = append(args, "-R", f.Spec())
		}
	}
	opt := func(k, v string) { args = append(args, "-o", k+"="+v) }
	if t.IdentitiesOnly {
		opt("IdentitiesOnly", "yes")
	}
	if t.IdentityAgent != "" {
		opt("IdentityAgent", t.IdentityAgent)
	}
	for _, c := range t.CertificateFiles {
		opt("CertificateFile", c)
	}
	if len(t.KnownHostsFiles) > 0 && !isDefaultKnownHosts(t.KnownHostsFiles) {
		opt("UserKnownHostsFile", strings.Join(t.KnownHostsFiles, " "))
	}
	if t.StrictHostKeyChecking != "" && t.StrictHostKeyChecking != "ask" {
		opt("StrictHostKeyChecking", t.StrictHostKeyChecking)
	}
	if t.HostKeyAlias != "" {
		opt("HostKeyAlias", t.HostKeyAlias)
	}
	if t.ConnectTimeout > 0 && t.ConnectTimeout != builtinSettings().ConnectTimeout {
		opt("ConnectTimeout", secs(t.ConnectTimeout))
	}
	if r.Settings.KeepaliveInterval > 0 {
		opt("ServerAliveInterval", secs(r.Settings.KeepaliveInterval))
	}
	if r.Settings.KeepaliveCountMax > 0 {
		opt("ServerAliveCountMax", strconv.Itoa(r.Settings.KeepaliveCountMax))
	}
	dest := t.HostName
	if t.User != "" {
		dest = t.User + "@" + dest
	}
	return append(args, dest)
}

// isDefaultKnownHosts reports whether files is OpenSSH's default pair.
func isDefaultKnownHosts(files []string) bool {
	return len(files) == 2 && filepath.Base(files[0]) == "known_hosts" && filepath.Base(files[1]) == "known_hosts2" &&
		filepath.Base(filepath.Dir(files[0])) == ".ssh"
}

// hopURL writes a jump hop as ssh -J takes it: [user@]host[:port].
func hopURL(h Hop) string {
	s := h.HostName
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if h.Port != 22 && h.Port != 0 {
		s += ":" + strconv.Itoa(h.Port)
	}
	if h.User != "" {
		s = h.User + "@" + s
	}
	return s
}

func secs(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// ShellJoin joins args into one line a POSIX shell reads back as the same
// words, single-quoting those that need it.
func ShellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := !slices.ContainsFunc([]byte(s), func(c byte) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("@%+=:,./_-", c) >= 0)
	})
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
