package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
)

// scrape returns the value of one metric line (name with labels) from /metrics.
func scrape(t *testing.T, base, series string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func TestMetricsReportCameraHealthAndMove(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	d := startDaemon(t, cam("press-1", c.URL()))
	d.waitState(t, "press-1", "streaming", 10*time.Second)
	v := d.dial(t, "press-1")
	nextUnit(t, v, 5*time.Second)
	time.Sleep(2200 * time.Millisecond) // two keyframes and a full fps window

	want := map[string]func(float64) bool{
		`edgecam_camera_up{camera="press-1"}`:                                       func(x float64) bool { return x == 1 },
		`edgecam_camera_state{camera="press-1",state="streaming"}`:                  func(x float64) bool { return x == 1 },
		`edgecam_camera_keyframe_interval_seconds{camera="press-1"}`:                func(x float64) bool { return x == 1 },
		`edgecam_camera_fps{camera="press-1"}`:                                      func(x float64) bool { return x > 20 && x < 30 },
		`edgecam_camera_viewers{camera="press-1",transport="webrtc"}`:               func(x float64) bool { return x == 1 },
		`edgecam_camera_last_frame_age_seconds{camera="press-1"}`:                   func(x float64) bool { return x < 1 },
		`edgecam_camera_reconnects_total{camera="press-1"}`:                         func(x float64) bool { return x == 0 },
		`edgecam_webrtc_sessions`:                                                   func(x float64) bool { return x == 1 },
		`edgecam_jpeg_decoders`:                                                     func(x float64) bool { return x == 0 },
		`edgecam_http_requests_total{code="201",route="POST /cameras/{name}/whep"}`: func(x float64) bool { return x == 1 },
	}
	for series, ok := range want {
		got, found := scrape(t, d.base, series)
		if !found || !ok(got) {
			t.Errorf("%s = %v (found %v)", series, got, found)
		}
	}
	b1, _ := scrape(t, d.base, `edgecam_camera_bytes_received_total{camera="press-1"}`)
	f1, _ := scrape(t, d.base, `edgecam_camera_frames_received_total{camera="press-1"}`)
	time.Sleep(500 * time.Millisecond)
	b2, _ := scrape(t, d.base, `edgecam_camera_bytes_received_total{camera="press-1"}`)
	f2, _ := scrape(t, d.base, `edgecam_camera_frames_received_total{camera="press-1"}`)
	if b2 <= b1 || f2 <= f1 {
		t.Errorf("counters do not move: bytes %v→%v frames %v→%v", b1, b2, f1, f2)
	}
	resp, _ := http.Get(d.base + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"edgecam_build_info{", "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	j := d.camera(t, "press-1")
	if j.KeyframeInterval != 1 || j.GOPFrames != testcamera.GOP || j.LastFrameAge < 0 || j.LastFrameAge > 1 || j.ViewersByTransport.WebRTC != 1 {
		t.Errorf("API health %+v", j)
	}
}

// readEvents collects SSE events until stop returns true or the time is up.
func readEvents(t *testing.T, url string, timeout time.Duration, stop func(name, data string) bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var seen []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			seen = append(seen, name+" "+data)
			if stop(name, data) {
				return seen
			}
		}
	}
	return seen
}

func TestStalledCameraShowsStaleInMetricsAPIAndEvents(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	hung := cam("press-1", c.URL())
	hung.StaleAfter = config.Duration(time.Second)
	hung.ReadTimeout = config.Duration(10 * time.Second) // stale long before the reconnect
	d := startDaemon(t, hung)
	d.waitState(t, "press-1", "streaming", 10*time.Second)

	go func() {
		time.Sleep(500 * time.Millisecond)
		c.Pause()
	}()
	start := time.Now()
	events := readEvents(t, d.base+"/api/events", 10*time.Second, func(name, data string) bool {
		return name == "camera" && strings.Contains(data, `"event":"stale"`)
	})
	last := events[len(events)-1]
	if !strings.HasPrefix(last, "camera ") || !strings.Contains(last, `"camera":"press-1"`) {
		t.Fatalf("no stale event within 10s; got %v", events)
	}
	if !strings.HasPrefix(events[0], "cameras ") {
		t.Errorf("the stream does not start with the camera list: %v", events[0])
	}
	t.Logf("stale event %s after the camera stopped sending", (time.Since(start) - 500*time.Millisecond).Round(10*time.Millisecond))
	if got := d.camera(t, "press-1").State; got != "stale" {
		t.Errorf("API state %q, want stale", got)
	}
	if up, _ := scrape(t, d.base, `edgecam_camera_up{camera="press-1"}`); up != 0 {
		t.Errorf("edgecam_camera_up = %v for a stale camera", up)
	}
	if st, _ := scrape(t, d.base, `edgecam_camera_state{camera="press-1",state="stale"}`); st != 1 {
		t.Errorf("stale state metric = %v", st)
	}

	c.Resume()
	events = readEvents(t, d.base+"/api/events", 10*time.Second, func(name, data string) bool {
		return name == "camera" && strings.Contains(data, `"event":"online"`)
	})
	if !strings.Contains(events[len(events)-1], `"event":"online"`) {
		t.Fatalf("no online event after the camera resumed: %v", events)
	}
}

func TestEventsReportOfflineAndViewers(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	d := startDaemon(t, cam("press-1", c.URL()))
	d.waitState(t, "press-1", "streaming", 10*time.Second)
	go func() {
		time.Sleep(300 * time.Millisecond)
		v := d.dial(t, "press-1")
		time.Sleep(500 * time.Millisecond)
		v.Close()
		time.Sleep(500 * time.Millisecond)
		c.Close()
	}()
	var order []string
	re := regexp.MustCompile(`"event":"(\w+)"`)
	readEvents(t, d.base+"/api/events", 15*time.Second, func(name, data string) bool {
		if m := re.FindStringSubmatch(data); m != nil && name != "cameras" {
			order = append(order, name+":"+m[1])
		}
		return strings.Contains(data, `"event":"offline"`)
	})
	got := strings.Join(order, " ")
	for _, want := range []string{"viewers:joined", "viewers:left", "camera:offline"} {
		if !strings.Contains(got, want) {
			t.Errorf("events %q lack %s", got, want)
		}
	}
}

func TestPprofOnlyOnItsOwnLoopbackAddress(t *testing.T) {
	d := startDaemonWith(t, func(cfg *config.Config) { cfg.Debug.PprofListen = "127.0.0.1:0" })
	resp, err := http.Get(d.base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("pprof is served on the public port")
	}
	cfg := config.Default()
	cfg.Debug.PprofListen = "0.0.0.0:6060"
	cfg.Auth.Mode = config.AuthNone
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("a non-loopback pprof address was accepted: %v", err)
	}
	_ = json.Valid
}
