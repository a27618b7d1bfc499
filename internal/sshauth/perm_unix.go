//go:build unix

package sshauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// keyPerms refuses a private key file that group or others can read or
// write, as OpenSSH does ("UNPROTECTED PRIVATE KEY FILE"). A missing file is
// not its business.
func keyPerms(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return nil
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("permissions %#o are too open: the private key must not be accessible by others (chmod 600)", m)
	}
	return nil
}
