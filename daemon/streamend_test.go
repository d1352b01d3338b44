package daemon_test

import (
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// A camera that ends its stream leaves a WebRTC viewer's picture frozen for
// about a backoff and a GOP, not for the read timeout, and the viewer goes
// on without a new offer: whether it says so with an RTCP BYE (its
// connection kept open), restarts its encoder inside the session (new
// SSRC, sequence numbers and timestamps) or closes its connection.
func TestViewerResumesAtOnceWhenTheCameraEndsItsStream(t *testing.T) {
	for _, tc := range []struct {
		name       string
		end        func(t *testing.T, c *testcamera.Camera)
		reconnects uint64
	}{
		{"RTCP BYE", func(t *testing.T, c *testcamera.Camera) { c.SayGoodbye() }, 1},
		{"encoder restart inside the session", func(t *testing.T, c *testcamera.Camera) { c.RestartEncoder() }, 0},
		{"connection closed", func(t *testing.T, c *testcamera.Camera) {
			addr := c.Addr()
			c.Close()
			daemontest.StartCamera(t, testcamera.Options{Addr: addr})
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := daemontest.StartCamera(t, testcamera.Options{})
			cam := daemontest.Camera("press-1", c.URL())
			// Only the camera's own doing can end the session.
			cam.ReadTimeout = config.Duration(time.Minute)
			cam.StaleAfter = config.Duration(time.Minute)
			d := daemontest.Start(t, nil, cam)
			d.WaitState(t, "press-1", "streaming", 10*time.Second)
			v := d.Dial(t, "press-1")
			daemontest.NextUnit(t, v, 10*time.Second)

			tc.end(t, c)
			last := time.Now()
			frozen := time.Duration(0)
			for end := time.Now().Add(8 * time.Second); time.Now().Before(end); {
				au := daemontest.NextUnit(t, v, 15*time.Second)
				frozen = max(frozen, au.Received.Sub(last))
				last = au.Received
			}
			t.Logf("the viewer's picture froze for at most %s", frozen.Round(10*time.Millisecond))
			// Backoff (1 s, jittered), connecting, and up to a GOP (1 s) to
			// the next IDR; the read timeout would have been a minute.
			if frozen > 5*time.Second {
				t.Fatalf("frozen for %s after the camera ended its stream", frozen)
			}
			if got := d.Camera(t, "press-1"); got.Reconnects != tc.reconnects {
				t.Fatalf("%d reconnects, want %d", got.Reconnects, tc.reconnects)
			}
		})
	}
}
