//go:build linux && !386

package tunnel

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Socket I/O the Go scheduler does not see (Linux, Android).
//
// A system call made through the syscall package tells the scheduler it is
// in the kernel. If it lasts longer than one tick of the runtime's monitor
// (sysmon: 20 µs while the program is busy), the monitor hands the P to
// another thread, which wakes, finds nothing to run and sleeps again; and
// while it keeps finding such calls the monitor keeps polling at its
// fastest rate. A read or write of tens of KiB on a loopback socket (a
// forward's client; hop 1 when the server is near) routinely lasts that
// long, because the kernel runs the receiving side's TCP processing inline.
// With one P, kuguri's default, every such call cost a thread hand-off:
// profiles of a bulk transfer put the monitor alone at 16 % of the
// process's CPU.
//
// The net package makes every socket non-blocking, so a read or write never
// waits in the kernel: it copies what it can and returns, or fails with
// EAGAIN, and then the runtime's poller waits for readiness as usual
// (through syscall.RawConn, which also keeps deadlines and Close working).
// Made with syscall.RawSyscall such a call keeps its P for its few tens of
// µs, as a C program's would, and the monitor stays asleep.

// rawSocket is a TCP or Unix socket whose Read and Write use raw system
// calls; every other method is the socket's own.
type rawSocket struct {
	net.Conn
	rc syscall.RawConn
}

// rawSocketConn returns c with raw reads and writes when it is a TCP or
// Unix socket, c itself otherwise.
func rawSocketConn(c net.Conn) net.Conn {
	rc := rawReadable(c)
	if rc == nil {
		return c
	}
	return &rawSocket{Conn: c, rc: rc}
}

func (s *rawSocket) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var serr error
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, serr = sockRead(fd, p)
			if serr != syscall.EINTR {
				break
			}
		}
		return serr != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, err
	case serr != nil:
		return 0, os.NewSyscallError("read", serr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (s *rawSocket) Write(p []byte) (int, error) {
	done := 0
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			n, e := sockWrite(fd, p[done:])
			switch e {
			case nil:
				done += n
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				serr = e
				return true
			}
		}
		return true
	})
	if err == nil && serr != nil {
		err = os.NewSyscallError("write", serr)
	}
	return done, err
}

// sockRead is one read(2) of a non-blocking socket, unseen by the
// scheduler.
func sockRead(fd uintptr, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// sockWrite is one send(2) of a non-blocking socket, unseen by the
// scheduler. MSG_NOSIGNAL: a peer that went away is an EPIPE, not a
// SIGPIPE.
func sockWrite(fd uintptr, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// sockPeek looks at whether a non-blocking socket has a byte (or its end)
// to read, leaving it there; a raw recvfrom(2), unseen by the scheduler.
func sockPeek(fd uintptr) error {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
