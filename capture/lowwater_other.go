//go:build !linux

package capture

// setLowWater is Linux-only: elsewhere an idle camera's reads are paced
// but every segment still wakes the reader's poller.
func (c *readAheadConn) setLowWater(idle bool) {}
