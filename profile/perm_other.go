//go:build !unix

package profile

import "io/fs"

// checkPerms does nothing where Unix permission bits do not apply; Windows
// ACLs are the user profile's business.
func checkPerms(fs.FileInfo) error { return nil }
