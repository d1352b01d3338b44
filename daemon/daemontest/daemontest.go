// Package daemontest runs edgecam daemons and test cameras for the tests of
// the daemon and its packages: a daemon on loopback with WebRTC on lo only,
// stopped (and checked to stop in time) when the test ends, and helpers that
// read its API and play its streams, every wait bounded in time.
package daemontest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// LogBuffer collects a daemon's log so tests can search it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Daemon is a daemon running for a test.
type Daemon struct {
	*daemon.Daemon
	// URL is the daemon's base URL, http://127.0.0.1:port.
	URL string
	// Logs is everything the daemon logged, at debug level.
	Logs *LogBuffer
	stop func()
}

// Stop stops the daemon before the test ends, as a restart or a crash
// would, and waits for it; the test's cleanup then has nothing to do.
func (d *Daemon) Stop() { d.stop() }

// Config is a configuration for tests: loopback only, WebRTC on lo and a
// free port, short timeouts. The caller applies defaults.
func Config(cams ...config.Camera) *config.Config {
	cfg := config.Default()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.WebRTC.UDPPort = 0
	cfg.WebRTC.Interfaces = []string{"lo"}
	cfg.JPEG.IdleStop = config.Duration(500 * time.Millisecond)
	cfg.Cameras = cams
	for i := range cfg.Cameras {
		if cfg.Cameras[i].ReadTimeout == 0 {
			cfg.Cameras[i].ReadTimeout = config.Duration(2 * time.Second)
		}
	}
	return cfg
}

// Camera is a camera entry for url, pulled over TCP.
func Camera(name, url string) config.Camera {
	return config.Camera{Name: name, URL: url, Transport: config.TransportTCP}
}

// Start runs a daemon with cams on the test configuration, changed by tweak
// if it is not nil, until the test ends.
func Start(t testing.TB, tweak func(*config.Config), cams ...config.Camera) *Daemon {
	t.Helper()
	cfg := Config(cams...)
	if tweak != nil {
		tweak(cfg)
	}
	cfg.ApplyDefaults()
	return Run(t, cfg, daemon.Options{OnDemandLinger: 500 * time.Millisecond})
}

// Run runs a daemon on cfg until the test ends, logging at debug level into
// a buffer that is printed if the test fails; opts.Logger is set here.
func Run(t testing.TB, cfg *config.Config, opts daemon.Options) *Daemon {
	t.Helper()
	logs := &LogBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := daemon.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-d.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("daemon not ready after 10s")
	}
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon stopped with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("daemon did not stop within 5s")
		}
	})
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return &Daemon{Daemon: d, URL: "http://" + d.HTTPAddr(), Logs: logs, stop: stop}
}

// StartCamera starts a test camera until the test ends.
func StartCamera(t testing.TB, opts testcamera.Options) *testcamera.Camera {
	t.Helper()
	cam, err := testcamera.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// SubCamera is a camera entry with a sub-stream, pulled over TCP: its main
// stream is a test camera serving the 640×360 clip, its sub-stream another
// serving lowres's 320×240 clip; both run until the test ends.
func SubCamera(t testing.TB, name string) config.Camera {
	t.Helper()
	c := Camera(name, StartCamera(t, testcamera.Options{}).URL())
	c.SubURL = StartCamera(t, testcamera.Options{Clip: lowres.Clip(), FPS: lowres.FPS}).URL()
	return c
}

// Camera reads one camera from the API.
func (d *Daemon) Camera(t testing.TB, name string) api.Camera {
	t.Helper()
	resp, err := Client().Get(d.URL + "/api/cameras/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c api.Camera
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatalf("GET /api/cameras/%s: %d, not a camera: %v", name, resp.StatusCode, err)
	}
	return c
}

// Running returns the daemon's camera of that name.
func (d *Daemon) Running(t testing.TB, name string) *cameras.Camera {
	t.Helper()
	c, ok := d.Cameras().Get(name)
	if !ok {
		t.Fatalf("the daemon has no camera %q", name)
	}
	return c
}

// Scrape reads one series (name and labels, as written) from /metrics.
func Scrape(t testing.TB, base, series string) (float64, bool) {
	t.Helper()
	_, body := Get(t, base+"/metrics")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// WaitState polls the API until the camera reaches state or timeout passes.
func (d *Daemon) WaitState(t testing.TB, name, state string, timeout time.Duration) api.Camera {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var c api.Camera
	for time.Now().Before(deadline) {
		c = d.Camera(t, name)
		if c.State == state {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("camera %s: state %q after %s, want %q (error %q)", name, c.State, timeout, state, c.Error)
	return c
}

// Dial plays a camera over WHEP with ICE on lo, until the test ends.
func (d *Daemon) Dial(t testing.TB, name string) *whepclient.Client {
	t.Helper()
	return d.DialStream(t, name, "")
}

// DialStream is Dial for one of the camera's streams (?stream=main|sub;
// "" asks for the default).
func (d *Daemon) DialStream(t testing.TB, name, stream string) *whepclient.Client {
	t.Helper()
	url := d.URL + "/cameras/" + name + "/whep"
	if stream != "" {
		url += "?stream=" + stream
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := whepclient.Dial(ctx, url, whepclient.Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// NextUnit returns the player's next access unit, failing after timeout.
func NextUnit(t testing.TB, c *whepclient.Client, timeout time.Duration) whepclient.AccessUnit {
	t.Helper()
	select {
	case au := <-c.Units():
		return au
	case <-time.After(timeout):
		t.Fatalf("no video within %s (peer state %s)", timeout, c.State())
		return whepclient.AccessUnit{}
	}
}

// WaitFor polls cond until it holds, failing after timeout with what.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// NALUTypes lists the types of an access unit's NALUs.
func NALUTypes(au [][]byte) []h264.NALUType {
	var out []h264.NALUType
	for _, n := range au {
		out = append(out, h264.NALUType(n[0]&0x1f))
	}
	return out
}
