//go:build !linux || edgecam_nolowwater

package capture

// setLowWater is Linux-only: elsewhere, and with the edgecam_nolowwater
// build tag, an idle camera's reads are paced but every segment still
// wakes the reader's poller.
func (c *readAheadConn) setLowWater(idle bool) {}
