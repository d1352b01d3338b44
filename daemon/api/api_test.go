package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

func TestCameraWithUnsupportedCodecGetsClearState(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{Codec: "mjpeg"})
	d := daemontest.Start(t, nil, daemontest.Camera("gate", c.URL()))
	got := d.WaitState(t, "gate", "unsupported", 10*time.Second)
	for _, want := range []string{"M-JPEG", "H265", "H264", "switch the camera"} {
		if !strings.Contains(got.Error, want) {
			t.Errorf("error %q does not mention %q", got.Error, want)
		}
	}
}

func TestCredentialsNeverLeak(t *testing.T) {
	t.Parallel()
	const pass = "Xy7-secret-Pw"
	c := daemontest.StartCamera(t, testcamera.Options{User: "admin", Pass: pass})
	wrong := strings.Replace(c.URL(), pass, pass+"-wrong", 1)
	d := daemontest.Start(t, nil, daemontest.Camera("ok", c.URL()), daemontest.Camera("badpass", wrong))
	d.WaitState(t, "ok", "streaming", 10*time.Second)
	bad := d.WaitState(t, "badpass", "retrying", 10*time.Second)
	if !strings.Contains(bad.Error, "401") {
		t.Errorf("error %q does not say the credentials were refused", bad.Error)
	}

	var bodies []string
	for _, path := range []string{"/api/cameras", "/api/cameras/ok", "/api/cameras/badpass", "/", "/metrics",
		"/cameras/badpass/snapshot.jpg", "/cameras/nope/mjpeg"} {
		resp, err := daemontest.Client().Get(d.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, string(b))
	}
	// The event stream's first message is the camera list.
	readEvents(t, d.URL+"/api/events", 5*time.Second, func(name, data string) bool {
		bodies = append(bodies, data)
		return true
	})
	all := strings.Join(bodies, "\n") + d.Logs.String()
	if strings.Contains(all, pass) {
		t.Fatalf("the camera password appears in the API, page or log:\n%s", all)
	}
	if !strings.Contains(bodies[0], "admin:***@") {
		t.Errorf("API does not show the redacted URL: %s", bodies[0])
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	d := daemontest.Start(t, nil)
	for _, p := range []string{"/", "/app.js", "/api/cameras", "/healthz", "/nope", "/cameras/x/whep"} {
		resp, err := daemontest.Client().Get(d.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s header", p, h)
			}
		}
	}
}

func TestSessionsPerAddressAreLimited(t *testing.T) {
	t.Parallel()
	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.HTTP.SessionsPerMinute = 2
		cfg.JPEG.FFmpeg = "/nonexistent/ffmpeg" // answers at once; the limit comes first
	}, daemontest.Camera("press-1", "rtsp://127.0.0.1:1/none"))
	var codes []int
	for i := 0; i < 3; i++ {
		resp, err := daemontest.Client().Get(d.URL + "/cameras/press-1/mjpeg")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[2] != http.StatusTooManyRequests || codes[0] == http.StatusTooManyRequests {
		t.Fatalf("answers %v, want the third to be 429", codes)
	}
}
