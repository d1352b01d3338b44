package capture

import "syscall"

// setLowWater raises the socket's low-water mark while the camera is idle
// and playing, and lowers it back to one byte otherwise. It may be called
// from any goroutine. Failure only costs wake-ups, so it is ignored.
func (c *readAheadConn) setLowWater(idle bool) {
	if c.raw == nil {
		return
	}
	v := 1
	if idle {
		v = idleLowWater
	}
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, v)
	})
}
