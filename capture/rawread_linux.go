//go:build !edgecam_plainread

package capture

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// readConn fills b with one read(2) of the camera's socket, made as a raw
// system call once the netpoller says the socket is readable.
//
// Why not c.Conn.Read: a Go system call made the usual way tells the
// runtime it may block, and when the process was idle that wakes the
// runtime's monitor thread (sysmon), which then polls every 20 µs until
// the process is idle again. A watched camera is read once or twice per
// frame, so that is a thread wake-up and several sleeps per frame and
// camera. The socket is non-blocking, so the read never waits in the
// kernel and needs none of that.
//
// Its gain: edgecam-bench -scenario 8x360p-1v against a binary built with
// the edgecam_plainread tag (docs/performance.md). It could go if the
// runtime stopped waking sysmon for system calls that cannot block.
func (c *readAheadConn) readConn(b []byte) (int, error) {
	if c.raw == nil || len(b) == 0 {
		return c.Conn.Read(b)
	}
	var n int
	var errno syscall.Errno
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			if e == syscall.EINTR {
				continue
			}
			n, errno = int(r), e
			return e != syscall.EAGAIN
		}
	})
	switch {
	case err != nil:
		// A deadline or a closed connection: give the error net.Conn.Read
		// would have given, so gortsplib sees no difference.
		if oe, ok := err.(*net.OpError); ok {
			err = oe.Err
		}
		return 0, c.readError(err)
	case errno != 0:
		return 0, c.readError(os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *readAheadConn) readError(err error) error {
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
