package capture

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
)

// unitCounter is a Sink that counts what it is given.
type unitCounter struct {
	units, idrs atomic.Int64
	mu          sync.Mutex
	sessions    []uint64 // each distinct Session seen, in order
}

func (s *unitCounter) WriteAccessUnit(au *AccessUnit) {
	s.units.Add(1)
	if au.IDR {
		s.idrs.Add(1)
	}
	s.mu.Lock()
	if n := len(s.sessions); n == 0 || s.sessions[n-1] != au.Session {
		s.sessions = append(s.sessions, au.Session)
	}
	s.mu.Unlock()
}

// signals counts how often a camera's Changed channel fires.
type signals struct{ n atomic.Int64 }

// runCamera runs a Camera on cfg until the test ends and checks that Run
// returns within a second of being told to stop.
func runCamera(t *testing.T, cfg Config) (*Camera, *unitCounter, *signals) {
	t.Helper()
	sink := &unitCounter{}
	c := New(cfg, sink, nil)
	sig := &signals{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.Changed():
				sig.n.Add(1)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-watchDone
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(time.Second):
			t.Error("Run did not return within 1s of its context ending")
		}
	})
	return c, sink, sig
}

// waitStatus polls the camera until cond holds, failing after timeout with
// what the test waited for and the last status.
func waitStatus(t *testing.T, c *Camera, timeout time.Duration, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := c.Status()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: want %s; state %s, error %q, reconnects %d, frames %d",
				timeout, what, s.State, s.LastError, s.Reconnects, s.Frames)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startTestCamera(t *testing.T, opts testcamera.Options) *testcamera.Camera {
	t.Helper()
	cam, err := testcamera.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// A camera that goes away is retried until it comes back, whatever the
// outage looks like from here, and then streams again in a new session,
// counted as a reconnect: Run never gives up on a camera by itself.
func TestCameraReconnectsWhenTheCameraComesBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		// away takes the camera away and returns what brings it back.
		away func(t *testing.T, cam *testcamera.Camera) (back func())
	}{
		{"killed and restarted", func(t *testing.T, cam *testcamera.Camera) func() {
			addr := cam.Addr()
			cam.Close()
			return func() { startTestCamera(t, testcamera.Options{Addr: addr}) }
		}},
		{"hung past the read timeout", func(t *testing.T, cam *testcamera.Camera) func() {
			cam.Pause()
			return cam.Resume
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cam := startTestCamera(t, testcamera.Options{})
			c, sink, sig := runCamera(t, Config{
				Name: "press-1", URL: cam.URL(), Transport: TransportTCP,
				ReadTimeout: time.Second, MinBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			})
			s := waitStatus(t, c, 5*time.Second, "streaming", func(s Status) bool { return s.State == StateStreaming })
			if s.Codec != CodecH264 || s.Width != testcamera.Width || s.Height != testcamera.Height {
				t.Errorf("status says %s %dx%d, want H264 %dx%d", s.Codec, s.Width, s.Height, testcamera.Width, testcamera.Height)
			}
			// The state says streaming at the first unit; under emulation the
			// IDR can still be on its way to the sink.
			waitStatus(t, c, 5*time.Second, "an IDR at the sink", func(Status) bool { return sink.idrs.Load() > 0 })
			before := sig.n.Load()

			back := tc.away(t, cam)
			s = waitStatus(t, c, 5*time.Second, "retrying", func(s Status) bool { return s.State == StateRetrying })
			if s.LastError == "" {
				t.Error("a retrying camera says nothing about why")
			}

			back()
			units := sink.units.Load()
			waitStatus(t, c, 10*time.Second, "streaming again after a reconnect",
				func(s Status) bool { return s.State == StateStreaming && s.Reconnects >= 1 })
			waitStatus(t, c, 5*time.Second, "frames after the reconnect",
				func(Status) bool { return sink.units.Load() > units+10 })
			sink.mu.Lock()
			sessions := append([]uint64(nil), sink.sessions...)
			sink.mu.Unlock()
			if len(sessions) < 2 {
				t.Errorf("units came from sessions %v; a reconnect must start a new Session", sessions)
			}
			// streaming → connecting/retrying → … → streaming, and the reconnect.
			if got := sig.n.Load() - before; got < 3 {
				t.Errorf("Changed fired %d times across the outage, want every state change signalled", got)
			}
		})
	}
}

func TestCameraTurnsStaleWhileNoFrameComesAndBackWhenFramesResume(t *testing.T) {
	t.Parallel()
	cam := startTestCamera(t, testcamera.Options{})
	c, _, sig := runCamera(t, Config{
		Name: "press-1", URL: cam.URL(), Transport: TransportTCP,
		ReadTimeout: 5 * time.Second, StaleAfter: 300 * time.Millisecond,
	})
	waitStatus(t, c, 5*time.Second, "streaming", func(s Status) bool { return s.State == StateStreaming })
	before := sig.n.Load()

	cam.Pause()
	s := waitStatus(t, c, 3*time.Second, "stale", func(s Status) bool { return s.State == StateStale })
	if s.FPS != 0 || s.Bitrate != 0 {
		t.Errorf("a stale camera reports %.1f fps and %.0f bit/s, want 0", s.FPS, s.Bitrate)
	}
	if sig.n.Load() == before {
		t.Error("turning stale did not signal Changed")
	}
	cam.Resume()
	s = waitStatus(t, c, 3*time.Second, "streaming again", func(s Status) bool { return s.State == StateStreaming })
	if s.Reconnects != 0 {
		t.Errorf("a short pause cost %d reconnects; the session should have stayed up", s.Reconnects)
	}
}

func TestCameraThatOffersNoH264IsUnsupported(t *testing.T) {
	cam := startTestCamera(t, testcamera.Options{Codec: "mjpeg"})
	c, _, _ := runCamera(t, Config{Name: "press-1", URL: cam.URL(), Transport: TransportTCP})
	s := waitStatus(t, c, 5*time.Second, "unsupported", func(s Status) bool { return s.State == StateUnsupported })
	if !strings.Contains(s.LastError, "M-JPEG") {
		t.Errorf("error %q does not name the codec the camera offers", s.LastError)
	}
}

func TestCameraErrorsNeverShowThePassword(t *testing.T) {
	cam := startTestCamera(t, testcamera.Options{User: "admin", Pass: "right"})
	u, err := url.Parse(cam.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("admin", "wr0ng-s3cret")
	c, _, _ := runCamera(t, Config{Name: "press-1", URL: u.String(), Transport: TransportTCP, MinBackoff: time.Hour})
	s := waitStatus(t, c, 5*time.Second, "retrying", func(s Status) bool { return s.State == StateRetrying })
	if !strings.Contains(s.LastError, "401") || strings.Contains(s.LastError, "wr0ng-s3cret") {
		t.Errorf("error %q: want the 401 without the password", s.LastError)
	}
}

// runPatientCamera pulls cam with read and stale timeouts far longer than
// a test waits, so that nothing but the camera's own doing ends a session,
// and returns once it streams.
func runPatientCamera(t *testing.T, cam *testcamera.Camera) (*Camera, *unitCounter) {
	t.Helper()
	c, sink, _ := runCamera(t, Config{
		Name: "press-1", URL: cam.URL(), Transport: TransportTCP,
		ReadTimeout: time.Minute, StaleAfter: time.Minute,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	waitStatus(t, c, 5*time.Second, "streaming", func(s Status) bool { return s.State == StateStreaming })
	return c, sink
}

// A camera that ends its stream with an RTCP BYE, keeping its connection
// open, is reconnected at once: not after the read timeout, with frames
// from the new session within a backoff and a GOP.
func TestCameraThatSaysGoodbyeIsReconnectedAtOnce(t *testing.T) {
	t.Parallel()
	cam := startTestCamera(t, testcamera.Options{})
	c, sink := runPatientCamera(t, cam)
	cam.SayGoodbye()
	said := time.Now()
	units := sink.units.Load()
	waitStatus(t, c, 10*time.Second, "streaming again in a new session",
		func(s Status) bool { return s.Reconnects >= 1 && sink.units.Load() > units+5 })
	t.Logf("frames again %s after the BYE", time.Since(said).Round(time.Millisecond))
}

// A camera whose encoder restarts inside the session (new SSRC, sequence
// numbers and timestamps) keeps playing: frames come on from its next IDR,
// without a stall until a timeout.
func TestCameraWhoseEncoderRestartsKeepsPlaying(t *testing.T) {
	t.Parallel()
	cam := startTestCamera(t, testcamera.Options{})
	c, sink := runPatientCamera(t, cam)
	idrs := sink.idrs.Load()
	cam.RestartEncoder()
	restarted := time.Now()
	waitStatus(t, c, 10*time.Second, "IDRs and frames after the restart",
		func(Status) bool { return sink.idrs.Load() > idrs+1 })
	t.Logf("two IDRs %s after the restart; %d reconnects", time.Since(restarted).Round(time.Millisecond), c.Status().Reconnects)
}
