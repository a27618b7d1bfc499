//go:build windows

package tunnel

import "syscall"

// WSAEADDRINUSE
const syscallEADDRINUSE = syscall.Errno(10048)
