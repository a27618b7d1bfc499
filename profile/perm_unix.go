//go:build unix

package profile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPerms refuses a config file that others could have written, as
// OpenSSH's StrictModes refuses such a ~/.ssh/config: whoever can write it
// can point a profile at their own server or run a ProxyCommand as you.
//
// Only regular files are checked: `--ssh-config /dev/null` (as with
// `ssh -F /dev/null`) is a world-writable device that nobody can plant
// settings in.
func checkPerms(st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return nil
	}
	if m := st.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("permissions %#o are too open: writable by group or others (chmod go-w)", m)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if uid := os.Getuid(); int(sys.Uid) != uid && sys.Uid != 0 {
			return fmt.Errorf("owned by uid %d, not by you (uid %d) or root", sys.Uid, uid)
		}
	}
	return nil
}
