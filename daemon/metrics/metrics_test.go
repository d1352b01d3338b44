package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

func TestMetricsReportCameraHealthAndMove(t *testing.T) {
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	v := d.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 5*time.Second)
	time.Sleep(2200 * time.Millisecond) // two keyframes and a full fps window

	want := map[string]func(float64) bool{
		`edgecam_camera_up{camera="press-1",stream="main"}`:                         func(x float64) bool { return x == 1 },
		`edgecam_camera_state{camera="press-1",state="streaming",stream="main"}`:    func(x float64) bool { return x == 1 },
		`edgecam_camera_keyframe_interval_seconds{camera="press-1",stream="main"}`:  func(x float64) bool { return x == 1 },
		`edgecam_camera_fps{camera="press-1",stream="main"}`:                        func(x float64) bool { return x > 20 && x < 30 },
		`edgecam_camera_viewers{camera="press-1",stream="main",transport="webrtc"}`: func(x float64) bool { return x == 1 },
		`edgecam_camera_last_frame_age_seconds{camera="press-1",stream="main"}`:     func(x float64) bool { return x < 1 },
		`edgecam_camera_reconnects_total{camera="press-1",stream="main"}`:           func(x float64) bool { return x == 0 },
		`edgecam_webrtc_sessions`: func(x float64) bool { return x == 1 },
		`edgecam_jpeg_decoders`:   func(x float64) bool { return x == 0 },
		`edgecam_http_requests_total{code="201",route="POST /cameras/{name}/whep"}`: func(x float64) bool { return x == 1 },
	}
	for series, ok := range want {
		got, found := daemontest.Scrape(t, d.URL, series)
		if !found || !ok(got) {
			t.Errorf("%s = %v (found %v)", series, got, found)
		}
	}
	b1, _ := daemontest.Scrape(t, d.URL, `edgecam_camera_bytes_received_total{camera="press-1",stream="main"}`)
	f1, _ := daemontest.Scrape(t, d.URL, `edgecam_camera_frames_received_total{camera="press-1",stream="main"}`)
	time.Sleep(500 * time.Millisecond)
	b2, _ := daemontest.Scrape(t, d.URL, `edgecam_camera_bytes_received_total{camera="press-1",stream="main"}`)
	f2, _ := daemontest.Scrape(t, d.URL, `edgecam_camera_frames_received_total{camera="press-1",stream="main"}`)
	if b2 <= b1 || f2 <= f1 {
		t.Errorf("counters do not move: bytes %v→%v frames %v→%v", b1, b2, f1, f2)
	}
	_, body := daemontest.Get(t, d.URL+"/metrics")
	for _, name := range []string{"edgecam_build_info{", "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	j := d.Camera(t, "press-1")
	if j.KeyframeInterval != 1 || j.GOPFrames != testcamera.GOP || j.LastFrameAge < 0 || j.LastFrameAge > 1 || j.ViewersByTransport.WebRTC != 1 {
		t.Errorf("API health %+v", j)
	}
}
