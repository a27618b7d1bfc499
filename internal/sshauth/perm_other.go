//go:build !unix

package sshauth

// keyPerms does nothing where Unix permission bits do not apply.
func keyPerms(string) error { return nil }
