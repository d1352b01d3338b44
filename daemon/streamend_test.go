package daemon_test

import (
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// A camera that ends its stream (an RTCP BYE, its connection kept open)
// leaves a WebRTC viewer's picture frozen for about a backoff and a GOP,
// not for the read timeout, and the viewer goes on without a new offer.
func TestViewerResumesAtOnceWhenTheCameraEndsItsStream(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	cam := daemontest.Camera("press-1", c.URL())
	cam.ReadTimeout = config.Duration(time.Minute) // only the BYE can end the session
	cam.StaleAfter = config.Duration(time.Minute)
	d := daemontest.Start(t, nil, cam)
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	v := d.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 10*time.Second)

	c.SayGoodbye()
	last := time.Now()
	frozen := time.Duration(0)
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); {
		au := daemontest.NextUnit(t, v, 15*time.Second)
		frozen = max(frozen, au.Received.Sub(last))
		last = au.Received
	}
	t.Logf("the viewer's picture froze for at most %s", frozen.Round(10*time.Millisecond))
	// Backoff (1 s, jittered), connecting, and up to a GOP (1 s) to the
	// next IDR; the read timeout would have been a minute.
	if frozen > 5*time.Second {
		t.Fatalf("frozen for %s after the camera ended its stream", frozen)
	}
	if got := d.Camera(t, "press-1"); got.Reconnects != 1 {
		t.Fatalf("%d reconnects, want 1", got.Reconnects)
	}
}
