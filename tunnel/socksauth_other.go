//go:build !unix

package tunnel

import "io/fs"

// checkSecretPerms does nothing where Unix permission bits do not apply;
// Windows ACLs are the user profile's business.
func checkSecretPerms(fs.FileInfo, string) error { return nil }
