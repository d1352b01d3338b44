//go:build !edgecam_nolowwater

package capture

import (
	"syscall"
	"testing"
)

func TestLowWaterMarkIsRaisedOnlyForThePause(t *testing.T) {
	c, _ := tcpPair(t)
	mark := func() int {
		var v int
		_ = c.raw.Control(func(fd uintptr) {
			v, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
		})
		return v
	}
	c.setLowWater(true)
	if got := mark(); got != idleLowWater {
		t.Fatalf("paused: SO_RCVLOWAT %d, want %d", got, idleLowWater)
	}
	c.setLowWater(false)
	if got := mark(); got != 1 {
		t.Fatalf("after the pause: SO_RCVLOWAT %d, want 1", got)
	}
}
