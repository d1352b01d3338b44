package daemon_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// reloadable runs a daemon whose configuration is a file the test rewrites.
type reloadable struct {
	*daemontest.Daemon
	path   string
	reload chan struct{}
}

func startReloadable(t *testing.T, yaml string) *reloadable {
	t.Helper()
	return startReloadableWith(t, yaml, daemon.Options{})
}

// startReloadableWith is startReloadable with opts; Reload and Load are
// set here.
func startReloadableWith(t *testing.T, yaml string, opts daemon.Options) *reloadable {
	t.Helper()
	path := filepath.Join(t.TempDir(), "edgecam.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{})
	opts.Reload = reload
	opts.Load = func() (*config.Config, error) { return config.Load(path) }
	d := daemontest.Run(t, cfg, opts)
	return &reloadable{Daemon: d, path: path, reload: reload}
}

// apply writes the new configuration and reloads, waiting until the daemon
// has handled it.
func (r *reloadable) apply(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(r.path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	before := strings.Count(r.Logs.String(), "reload")
	r.reload <- struct{}{}
	daemontest.WaitFor(t, 10*time.Second, "reload handled", func() bool {
		return strings.Count(r.Logs.String(), "reload") > before
	})
}

func reloadConfig(cams ...string) string {
	var b strings.Builder
	b.WriteString("http:\n  listen: 127.0.0.1:0\nwebrtc:\n  udp_port: 0\n  interfaces: [lo]\ncameras:\n")
	for i := 0; i+1 < len(cams); i += 2 {
		fmt.Fprintf(&b, "  - name: %s\n    url: %s\n    transport: tcp\n    read_timeout: 2s\n", cams[i], cams[i+1])
	}
	return b.String()
}

func TestReloadKeepsUnchangedCamerasAndTheirViewers(t *testing.T) {
	a := daemontest.StartCamera(t, testcamera.Options{})
	b := daemontest.StartCamera(t, testcamera.Options{})
	r := startReloadable(t, reloadConfig("press-1", a.URL(), "press-2", b.URL()))
	r.WaitState(t, "press-1", "streaming", 10*time.Second)
	r.WaitState(t, "press-2", "streaming", 10*time.Second)
	keep := r.Dial(t, "press-1")
	daemontest.NextUnit(t, keep, 10*time.Second)
	gone := r.Dial(t, "press-2")
	daemontest.NextUnit(t, gone, 10*time.Second)

	// press-2 removed, press-3 added, press-1 untouched.
	r.apply(t, reloadConfig("press-1", a.URL(), "press-3", b.URL()))
	r.WaitState(t, "press-3", "streaming", 10*time.Second)
	if got := r.Camera(t, "press-1"); got.Reconnects != 0 || got.Viewers != 1 {
		t.Fatalf("unchanged camera was disturbed: %+v", got)
	}
	resp, err := httpGet(r.URL + "/api/cameras/press-2")
	if err != nil || resp != 404 {
		t.Fatalf("removed camera: status %d %v, want 404", resp, err)
	}
	// The viewer of the unchanged camera kept receiving frames throughout.
	for i := 0; i < 25; i++ {
		daemontest.NextUnit(t, keep, 2*time.Second)
	}
	daemontest.WaitFor(t, 10*time.Second, "the removed camera's WebRTC session closed", func() bool {
		return r.WebRTCSessions() == 1
	})
}

func TestInvalidReloadChangesNothing(t *testing.T) {
	a := daemontest.StartCamera(t, testcamera.Options{})
	r := startReloadable(t, reloadConfig("press-1", a.URL()))
	r.WaitState(t, "press-1", "streaming", 10*time.Second)
	v := r.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 10*time.Second)

	r.apply(t, reloadConfig("press-1", a.URL())+"    colour: red\n")
	if !strings.Contains(r.Logs.String(), "colour") || !strings.Contains(r.Logs.String(), "still running the previous one") {
		t.Fatalf("the rejected reload is not explained in the log:\n%s", r.Logs.String())
	}
	for i := 0; i < 10; i++ {
		daemontest.NextUnit(t, v, 2*time.Second)
	}
	if got := r.Camera(t, "press-1"); got.State != "streaming" || got.Reconnects != 0 {
		t.Fatalf("camera disturbed by a rejected reload: %+v", got)
	}
}

func TestReloadRestartsChangedCamera(t *testing.T) {
	a := daemontest.StartCamera(t, testcamera.Options{})
	b := daemontest.StartCamera(t, testcamera.Options{})
	r := startReloadable(t, reloadConfig("press-1", a.URL()))
	r.WaitState(t, "press-1", "streaming", 10*time.Second)
	r.apply(t, reloadConfig("press-1", b.URL()))
	r.WaitState(t, "press-1", "streaming", 10*time.Second)
	daemontest.WaitFor(t, 5*time.Second, "old camera released", func() bool {
		return a.SessionCount() == 0 && b.SessionCount() == 1
	})
}

func httpGet(url string) (int, error) {
	resp, err := daemontest.Client().Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestSystemdSeesWatchdogAndReload(t *testing.T) {
	conn := daemontest.ListenNotify(t)
	t.Setenv("WATCHDOG_USEC", "400000") // pings every 200 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	a := daemontest.StartCamera(t, testcamera.Options{})
	r := startReloadable(t, reloadConfig("press-1", a.URL()))

	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	expect := func(what string, match func(string) bool) string {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("socket closed waiting for %s", what)
				}
				if match(m) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s within 5s", what)
			}
		}
	}
	expect("READY=1", func(m string) bool { return strings.Contains(m, "READY=1") })
	expect("a watchdog ping", func(m string) bool { return m == "WATCHDOG=1" })

	r.reload <- struct{}{}
	m := expect("RELOADING=1", func(m string) bool { return strings.Contains(m, "RELOADING=1") })
	if !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Errorf("RELOADING without MONOTONIC_USEC: %q", m)
	}
	m = expect("READY=1 after the reload", func(m string) bool { return strings.Contains(m, "READY=1") })
	// systemctl status says how the last reload went.
	if !strings.Contains(m, "STATUS=") || !strings.Contains(m, "; reloaded at ") {
		t.Errorf("status after a good reload: %q, want it to say reloaded at …", m)
	}
	if err := os.WriteFile(r.path, []byte(reloadConfig("press-1", a.URL())+"    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.reload <- struct{}{}
	m = expect("READY=1 after a rejected reload", func(m string) bool { return strings.Contains(m, "READY=1") && strings.Contains(m, "reload") })
	if !strings.Contains(m, "; reload rejected (") || !strings.Contains(m, "colour") {
		t.Errorf("status after a rejected reload: %q, want the reason", m)
	}
}

// edgecam_ffmpeg_restarts_total is a counter: a reload that removes a
// camera must not take that camera's ffmpeg restarts out of it (Prometheus
// would read the drop as a reset).
func TestFFmpegRestartsCountSurvivesAReloadThatRemovesTheCamera(t *testing.T) {
	a := daemontest.StartCamera(t, testcamera.Options{})
	b := daemontest.StartCamera(t, testcamera.Options{})
	broken := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	jpeg := "jpeg:\n  ffmpeg: " + broken + "\n"
	r := startReloadable(t, reloadConfig("press-1", a.URL(), "press-2", b.URL())+jpeg)
	r.WaitState(t, "press-1", "streaming", 10*time.Second)

	// A snapshot starts press-1's decoder, whose ffmpeg fails every time.
	go func() {
		c := http.Client{Timeout: 3 * time.Second}
		if resp, err := c.Get(r.URL + "/cameras/press-1/snapshot.jpg"); err == nil {
			resp.Body.Close()
		}
	}()
	var before float64
	daemontest.WaitFor(t, 10*time.Second, "an ffmpeg restart counted", func() bool {
		before, _ = daemontest.Scrape(t, r.URL, "edgecam_ffmpeg_restarts_total")
		return before >= 1
	})

	r.apply(t, reloadConfig("press-2", b.URL())+jpeg)
	if after, ok := daemontest.Scrape(t, r.URL, "edgecam_ffmpeg_restarts_total"); !ok || after < before {
		t.Fatalf("edgecam_ffmpeg_restarts_total went from %v to %v (present: %v) when press-1 was removed", before, after, ok)
	}
}
