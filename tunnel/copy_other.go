//go:build !unix

package tunnel

import (
	"io"
	"syscall"
)

// rawReadable: elsewhere every source is read by copyAdaptive.
func rawReadable(io.Reader) syscall.RawConn { return nil }

func readBorrowed(syscall.RawConn) (*[]byte, int, error) { panic("unreachable") }

func waitReadable(syscall.RawConn) error { panic("unreachable") }
