//go:build !windows

package tunnel

import "syscall"

const syscallEADDRINUSE = syscall.EADDRINUSE
