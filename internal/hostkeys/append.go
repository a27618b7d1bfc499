package hostkeys

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// AppendLine adds key for hosts to the known_hosts file, creating the file
// (0600) and its directory (0700) when missing. Hosts are written as given
// ("host" or "[host]:port"; see knownhosts.Normalize), each hashed (|1|)
// when hash is set, in which case every host gets its own line, as OpenSSH
// only matches a hash standing alone.
//
// Everything is written with a single write on a file opened O_APPEND, so
// concurrent appenders (other kuguri processes, ssh itself) never interleave
// within a line, and existing lines are never rewritten. If the file does not
// end with a newline, one is written first.
func AppendLine(file string, hosts []string, key ssh.PublicKey, hash bool) error {
	if len(hosts) == 0 {
		return fmt.Errorf("known_hosts %s: no host to write", file)
	}
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " \t\r\n,") {
			return fmt.Errorf("known_hosts %s: invalid host %q", file, h)
		}
	}
	keyText := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(key)), "\n")
	var b strings.Builder
	if hash {
		for _, h := range hosts {
			b.WriteString(knownhosts.HashHostname(h) + " " + keyText + "\n")
		}
	} else {
		b.WriteString(strings.Join(hosts, ",") + " " + keyText + "\n")
	}

	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("known_hosts %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", file, err)
	}
	// Other appenders (kuguri processes, goroutines) wait while this one
	// looks at the last byte and appends: without the lock it could see
	// another's append half-written (the size grows page by page) and add
	// a needless blank line. ssh takes no lock; at worst it causes that.
	unlock := lockFile(f)
	out := b.String()
	if !endsWithNewline(f) {
		out = "\n" + out
	}
	_, err = f.WriteString(out)
	unlock()
	if err != nil {
		f.Close()
		return fmt.Errorf("known_hosts %s: append: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("known_hosts %s: append: %w", file, err)
	}
	return nil
}

// endsWithNewline reports whether f is empty or ends with '\n'.
func endsWithNewline(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return true
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil && !errors.Is(err, io.EOF) {
		return true
	}
	return last[0] == '\n'
}
