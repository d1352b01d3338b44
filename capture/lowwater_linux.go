//go:build !edgecam_nolowwater

package capture

import (
	"syscall"
	"unsafe"
)

// setLowWater raises the socket's low-water mark while the camera is idle
// and playing, and lowers it back to one byte otherwise. It may be called
// from any goroutine. Failure only costs wake-ups, so it is ignored. The
// call is raw for the reason readConn's is: setsockopt never blocks, and an
// ordinary system call would wake the runtime's monitor thread each time.
//
// Its gain: edgecam-bench -scenario 8x360p-idle against a binary built with
// the edgecam_nolowwater tag (docs/performance.md). It could go if Go's
// netpoller let a reader ask to be woken only once enough bytes are queued.
func (c *readAheadConn) setLowWater(idle bool) {
	if c.raw == nil {
		return
	}
	v := int32(1)
	if idle {
		v = idleLowWater
	}
	_ = c.raw.Control(func(fd uintptr) {
		_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT,
			uintptr(unsafe.Pointer(&v)), unsafe.Sizeof(v), 0)
	})
}
