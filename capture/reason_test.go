package capture

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
)

// A camera that fails says why as a code the page can turn into words, and
// where it is dialled without its password.
func TestFailingCameraSaysWhyAsAReasonCode(t *testing.T) {
	// A port nobody listens on: bind one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()
	locked, err := testcamera.Start(testcamera.Options{User: "admin", Pass: "right"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(locked.Close)
	wrongPass := strings.Replace(locked.URL(), "rtsp://", "rtsp://admin:wrong-secret@", 1)
	mjpeg, err := testcamera.Start(testcamera.Options{Codec: "mjpeg"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mjpeg.Close)

	for _, tc := range []struct {
		name string
		url  string
		want Reason
		addr string
	}{
		{"nothing listens", "rtsp://user:hunter2@" + closedAddr + "/stream", ReasonRefused, closedAddr},
		{"wrong password", wrongPass, ReasonUnauthorized, locked.Addr()},
		{"wrong path", strings.TrimSuffix(mjpeg.URL(), "/stream") + "/nothing", ReasonNotFound, mjpeg.Addr()},
		{"codec", mjpeg.URL(), ReasonCodec, mjpeg.Addr()},
		{"unknown host", "rtsp://cam.invalid/stream", ReasonDNS, "cam.invalid:554"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := runCamera(t, Config{Name: "press-1", URL: tc.url, MinBackoff: time.Hour, MaxBackoff: time.Hour})
			s := waitStatus(t, c, 15*time.Second, "waiting to retry", func(s Status) bool {
				return s.State == StateRetrying || s.State == StateUnsupported
			})
			if s.Reason != tc.want {
				t.Errorf("reason %q (error %q), want %q", s.Reason, s.LastError, tc.want)
			}
			if s.Address != tc.addr {
				t.Errorf("address %q, want %q", s.Address, tc.addr)
			}
			if strings.Contains(s.LastError+s.Address, "hunter2") || strings.Contains(s.LastError+s.Address, "wrong-secret") {
				t.Errorf("the status leaks the password: %+v", s)
			}
			if s.Down.IsZero() || s.NextRetry.Before(time.Now().Add(40*time.Minute)) {
				t.Errorf("down since %v, next retry %v: want both set, the retry about an hour away", s.Down, s.NextRetry)
			}
		})
	}
}

// RetryNow makes a camera waiting out a long backoff try again at once, and
// the outage's start holds through the attempts until frames flow.
func TestRetryNowEndsTheBackoffWait(t *testing.T) {
	cam, err := testcamera.Start(testcamera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := cam.Addr()
	cam.Close()
	c, sink, _ := runCamera(t, Config{Name: "press-1", URL: "rtsp://" + addr + "/stream", MinBackoff: time.Hour, MaxBackoff: time.Hour})
	first := waitStatus(t, c, 10*time.Second, "retrying", func(s Status) bool { return s.State == StateRetrying })

	// A second failed attempt, asked for: the outage started at the first.
	if !c.RetryNow() {
		t.Fatal("RetryNow on a retrying camera reported it was not waiting")
	}
	waitStatus(t, c, 10*time.Second, "a second attempt", func(s Status) bool {
		// A new failure sets a new next try; with the backoff's jitter it
		// can come before the first one's.
		return s.State == StateRetrying && !s.NextRetry.Equal(first.NextRetry)
	})
	if got := c.Status().Down; !got.Equal(first.Down) {
		t.Errorf("down since %v after a second failure, want the first failure's %v", got, first.Down)
	}

	back, err := testcamera.Start(testcamera.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(back.Close)
	c.RetryNow()
	s := waitStatus(t, c, 10*time.Second, "streaming after Retry now", func(s Status) bool { return s.State == StateStreaming })
	if !s.Down.IsZero() || s.Reason != ReasonNone || !s.NextRetry.IsZero() {
		t.Errorf("a streaming camera reports down since %v, reason %q, next retry %v", s.Down, s.Reason, s.NextRetry)
	}
	if sink.units.Load() == 0 {
		t.Error("no frames after the retry")
	}
	if c.RetryNow() {
		t.Error("RetryNow on a streaming camera reported a retry")
	}
}

func TestClassifyReadsWrappedAndTextErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Reason
	}{
		{fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Err: fmt.Errorf("connect: connection refused")}), ReasonRefused},
		{fmt.Errorf("stream: %w", fmt.Errorf("TCP timeout")), ReasonTimeout},
		{fmt.Errorf("stream: %w", errNoVideo), ReasonNoVideo},
		{ErrStreamEnded, ReasonEnded},
		{fmt.Errorf("something odd"), ReasonOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
