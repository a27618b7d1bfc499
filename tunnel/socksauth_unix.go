//go:build unix

package tunnel

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkSecretPerms refuses a password file that group or others may access,
// as OpenSSH refuses such a private key ("UNPROTECTED PRIVATE KEY FILE"), or
// that someone other than you or root owns.
func checkSecretPerms(st fs.FileInfo, path string) error {
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("permissions %#o are too open: a password file must not be accessible by group or others (chmod 600 %s)", m, path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if uid := os.Getuid(); int(sys.Uid) != uid && sys.Uid != 0 {
			return fmt.Errorf("owned by uid %d, not by you (uid %d) or root", sys.Uid, uid)
		}
	}
	return nil
}
