//go:build unix

package tunnel

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawReadable returns the raw conn of a TCP or Unix socket (read by
// readBorrowed, and under rawSocket on Linux); nil for anything else.
func rawReadable(r io.Reader) syscall.RawConn {
	switch c := r.(type) {
	case *net.TCPConn:
		if rc, err := c.SyscallConn(); err == nil {
			return rc
		}
	case *net.UnixConn:
		if rc, err := c.SyscallConn(); err == nil {
			return rc
		}
	}
	return nil
}

// readBorrowed waits, holding no buffer, until the socket is readable, then
// reads into a buffer taken from copyBufs (a raw read on Linux: see
// rawio_linux.go). A read that would block puts the buffer back before the
// runtime's poller waits again. On return bp is the buffer (nil when none
// is held) with n bytes read; io.EOF at the end of the stream.
func readBorrowed(rc syscall.RawConn) (bp *[]byte, n int, err error) {
	var serr error
	err = rc.Read(func(fd uintptr) bool {
		if bp == nil {
			bp = copyBufs.Get().(*[]byte)
		}
		for {
			n, serr = sockRead(fd, *bp)
			if serr != syscall.EINTR {
				break
			}
		}
		if serr == syscall.EAGAIN {
			copyBufs.Put(bp)
			bp = nil
			return false
		}
		return true
	})
	if err != nil {
		// Closed, or a deadline: the callback had put the buffer back.
		return bp, 0, err
	}
	if serr != nil {
		return bp, 0, os.NewSyscallError("read", serr)
	}
	if n == 0 {
		return bp, 0, io.EOF
	}
	return bp, n, nil
}

// waitReadable returns once the socket has data, or its end, to read: a
// one-byte peek, and the runtime's poller while there is nothing.
func waitReadable(rc syscall.RawConn) error {
	var serr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			serr = sockPeek(fd)
			if serr != syscall.EINTR {
				break
			}
		}
		return serr != syscall.EAGAIN
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("recvfrom", serr)
	}
	return nil
}
