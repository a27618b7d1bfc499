//go:build !unix

package hostkeys

import "os"

// lockFile: no advisory lock outside Unix; appends are still one write
// each, so the worst a concurrent appender causes is a blank line.
func lockFile(*os.File) (unlock func()) { return func() {} }
