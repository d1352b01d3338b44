package api_test

import (
	"bufio"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

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
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	hung := daemontest.Camera("press-1", c.URL())
	hung.StaleAfter = config.Duration(time.Second)
	hung.ReadTimeout = config.Duration(10 * time.Second) // stale long before the reconnect
	d := daemontest.Start(t, nil, hung)
	d.WaitState(t, "press-1", "streaming", 10*time.Second)

	go func() {
		time.Sleep(500 * time.Millisecond)
		c.Pause()
	}()
	start := time.Now()
	events := readEvents(t, d.URL+"/api/events", 10*time.Second, func(name, data string) bool {
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
	if got := d.Camera(t, "press-1").State; got != "stale" {
		t.Errorf("API state %q, want stale", got)
	}
	if up, _ := daemontest.Scrape(t, d.URL, `edgecam_camera_up{camera="press-1",stream="main"}`); up != 0 {
		t.Errorf("edgecam_camera_up = %v for a stale camera", up)
	}
	if st, _ := daemontest.Scrape(t, d.URL, `edgecam_camera_state{camera="press-1",state="stale",stream="main"}`); st != 1 {
		t.Errorf("stale state metric = %v", st)
	}

	c.Resume()
	events = readEvents(t, d.URL+"/api/events", 10*time.Second, func(name, data string) bool {
		return name == "camera" && strings.Contains(data, `"event":"online"`)
	})
	if !strings.Contains(events[len(events)-1], `"event":"online"`) {
		t.Fatalf("no online event after the camera resumed: %v", events)
	}
}

func TestEventsReportOfflineAndViewers(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	go func() {
		time.Sleep(300 * time.Millisecond)
		v := d.Dial(t, "press-1")
		time.Sleep(500 * time.Millisecond)
		v.Close()
		time.Sleep(500 * time.Millisecond)
		c.Close()
	}()
	var order []string
	re := regexp.MustCompile(`"event":"(\w+)"`)
	readEvents(t, d.URL+"/api/events", 15*time.Second, func(name, data string) bool {
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
