package profile

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// validate runs the checks that span profiles: listen addresses used twice
// (local and dynamic forwards across every profile; port 0 never clashes),
// remote listens used twice within a profile, and every jump chain
// (cycles, depth, ssh_config values). A dynamic forward listening beyond
// loopback without socks_user is a warning, not an error.
func (c *Config) validate(probs *problems) {
	type listener struct {
		profile, forward, addr string
		line                   int
	}
	seen := map[int][]listener{} // by port
	var warns []string
	for _, name := range c.ld.order {
		p := c.Profiles[name]
		meta := c.ld.meta[name]
		remotes := map[string]string{}
		for i, f := range p.Forwards {
			field := fmt.Sprintf("forwards[%d]", i)
			line := meta.line(field, p.Line)
			if f.Type == Remote {
				if addrPort(f.Remote) != 0 {
					if other, ok := remotes[f.Remote]; ok {
						probs.addf(c.File, line, name, field, "remote listen address %s already used by forward %q", f.Remote, other)
					}
					remotes[f.Remote] = f.Name
				}
				continue
			}
			if f.Type == Dynamic && f.SOCKSUser == "" && !isLoopbackAddr(f.Local) {
				warns = append(warns, (&FieldError{File: c.File, Line: line, Profile: name, Field: field,
					Msg: fmt.Sprintf("dynamic forward %s listens on %s without socks_user: anyone on that network can use your SSH server as a proxy", f.Name, f.Local)}).Error())
			}
			port := addrPort(f.Local)
			if port == 0 {
				continue
			}
			for _, l := range seen[port] {
				if listenOverlap(l.addr, f.Local) {
					where := fmt.Sprintf("profile %q forward %q (line %d)", l.profile, l.forward, l.line)
					if l.profile == name {
						where = fmt.Sprintf("forward %q (line %d)", l.forward, l.line)
					}
					probs.addf(c.File, line, name, field, "listen address %s already used by %s", f.Local, where)
					break
				}
			}
			seen[port] = append(seen[port], listener{name, f.Name, f.Local, line})
		}
	}
	cycles := map[string]bool{}
	for _, name := range c.ld.order {
		if c.Profiles[name].Host == "" {
			continue // reported already
		}
		r, err := c.newResolver(name)
		if err == nil {
			_, err = r.profileChain(name, nil)
			warns = append(warns, r.warnings...)
		}
		if err != nil {
			var ce *cycleError
			if errors.As(err, &ce) {
				if cycles[ce.key] {
					continue
				}
				cycles[ce.key] = true
			}
			probs.add(asFieldError(err, c.File, c.Profiles[name].Line, name, ""))
		}
	}
	c.Warnings = dedupe(append(c.Warnings, warns...))
}

// listenOverlap reports whether two normalized listen addresses would
// collide: same port, and the same host, or one of them every interface,
// or "localhost" against a loopback address.
func listenOverlap(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb {
		return false
	}
	norm := func(h string) string {
		if ip, err := netip.ParseAddr(h); err == nil {
			ip = ip.Unmap()
			if ip.IsUnspecified() {
				return ""
			}
			return ip.String()
		}
		return strings.ToLower(h)
	}
	ha, hb = norm(ha), norm(hb)
	if ha == hb || ha == "" || hb == "" {
		return true
	}
	isLoop := func(h string) bool {
		ip, err := netip.ParseAddr(h)
		return err == nil && ip.IsLoopback()
	}
	return ha == "localhost" && isLoop(hb) || hb == "localhost" && isLoop(ha)
}
