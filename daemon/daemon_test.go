package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// syncBuffer collects the daemon's log so tests can grep it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testDaemon struct {
	*Daemon
	base string
	logs *syncBuffer
}

// startDaemon runs a daemon on loopback with WebRTC restricted to lo, and
// stops it (checking that it stops in time) when the test ends.
func startDaemon(t *testing.T, cams ...config.Camera) *testDaemon {
	t.Helper()
	return startDaemonWith(t, nil, cams...)
}

// startDaemonWith is startDaemon with a hook to change the configuration.
func startDaemonWith(t *testing.T, tweak func(*config.Config), cams ...config.Camera) *testDaemon {
	t.Helper()
	cfg := testConfig(cams...)
	if tweak != nil {
		tweak(cfg)
	}
	cfg.ApplyDefaults()
	return runDaemon(t, cfg, Options{OnDemandLinger: 500 * time.Millisecond})
}

// runDaemon runs a daemon on cfg until the test ends, logging at debug
// level into a buffer that is printed if the test fails; opts.Logger is
// set here.
func runDaemon(t *testing.T, cfg *config.Config, opts Options) *testDaemon {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(cfg, opts)
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
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon stopped with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("daemon did not stop within 5s")
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return &testDaemon{Daemon: d, base: "http://" + d.HTTPAddr(), logs: logs}
}

// testConfig is a configuration for tests: loopback only, WebRTC on lo and
// a free port, short timeouts. The caller applies defaults.
func testConfig(cams ...config.Camera) *config.Config {
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

// listenNotify plays systemd: it makes NOTIFY_SOCKET a datagram socket the
// test reads.
func listenNotify(t *testing.T) *net.UnixConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", sock)
	return conn
}

func startCamera(t *testing.T, opts testcamera.Options) *testcamera.Camera {
	t.Helper()
	cam, err := testcamera.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

func (d *testDaemon) camera(t *testing.T, name string) CameraJSON {
	t.Helper()
	resp, err := http.Get(d.base + "/api/cameras/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c CameraJSON
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitState polls the API until the camera reaches state or timeout passes.
func (d *testDaemon) waitState(t *testing.T, name, state string, timeout time.Duration) CameraJSON {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var c CameraJSON
	for time.Now().Before(deadline) {
		c = d.camera(t, name)
		if c.State == state {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("camera %s: state %q after %s, want %q (error %q)", name, c.State, timeout, state, c.Error)
	return c
}

func (d *testDaemon) dial(t *testing.T, name string) *whepclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := whepclient.Dial(ctx, d.base+"/cameras/"+name+"/whep", whepclient.Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func nextUnit(t *testing.T, c *whepclient.Client, timeout time.Duration) whepclient.AccessUnit {
	t.Helper()
	select {
	case au := <-c.Units():
		return au
	case <-time.After(timeout):
		t.Fatalf("no video within %s (peer state %s)", timeout, c.State())
		return whepclient.AccessUnit{}
	}
}

func naluTypes(au [][]byte) []h264.NALUType {
	var out []h264.NALUType
	for _, n := range au {
		out = append(out, h264.NALUType(n[0]&0x1f))
	}
	return out
}

func cam(name, url string) config.Camera {
	return config.Camera{Name: name, URL: url, Transport: "tcp"}
}

func TestViewerReceivesCameraH264OverWHEP(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts testcamera.Options
	}{
		{"params in SDP and in-band", testcamera.Options{}},
		{"params only in-band", testcamera.Options{InBandOnly: true}},
		{"params only in SDP", testcamera.Options{NoInBandParams: true}},
		{"with digest or basic credentials", testcamera.Options{User: "admin", Pass: "s3cret!x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCamera(t, tc.opts)
			d := startDaemon(t, cam("press-1", c.URL()))
			d.waitState(t, "press-1", "streaming", 10*time.Second)

			posted := time.Now()
			v := d.dial(t, "press-1")
			first := nextUnit(t, v, 10*time.Second)
			t.Logf("first picture %s after the WHEP POST", time.Since(posted).Round(time.Millisecond))

			types := naluTypes(first.NALUs)
			if len(types) < 3 || types[0] != h264.NALUTypeSPS || types[1] != h264.NALUTypePPS || !h264.IsRandomAccess(first.NALUs) {
				t.Fatalf("first access unit has NALU types %v, want SPS, PPS, IDR", types)
			}
			var sps h264.SPS
			if err := sps.Unmarshal(first.NALUs[0]); err != nil {
				t.Fatal(err)
			}
			if sps.Width() != testcamera.Width || sps.Height() != testcamera.Height {
				t.Fatalf("SPS says %dx%d, want %dx%d", sps.Width(), sps.Height(), testcamera.Width, testcamera.Height)
			}

			// Live frames at the camera's rate, with increasing timestamps,
			// once the cached GOP burst is through.
			prev := first.TS
			deadline := time.Now().Add(5 * time.Second)
			var live []whepclient.AccessUnit
			for time.Now().Before(deadline) && len(live) < 2*testcamera.FPS {
				au := nextUnit(t, v, 3*time.Second)
				if int32(au.TS-prev) <= 0 {
					t.Fatalf("timestamp went from %d to %d", prev, au.TS)
				}
				prev = au.TS
				if time.Since(au.Received) < 0 || au.Received.Sub(posted) > 500*time.Millisecond {
					live = append(live, au)
				}
			}
			if len(live) < testcamera.FPS {
				t.Fatalf("received %d live frames in 5s, want at least %d", len(live), testcamera.FPS)
			}
			span := time.Duration(live[len(live)-1].TS-live[0].TS) * time.Second / 90000
			fps := float64(len(live)-1) / span.Seconds()
			if fps < 20 || fps > 30 {
				t.Fatalf("live frames at %.1f fps by their timestamps, want about %d", fps, testcamera.FPS)
			}
			if got := d.camera(t, "press-1").Viewers; got != 1 {
				t.Fatalf("API says %d viewers, want 1", got)
			}
		})
	}
}

func TestViewerKeepsPlayingWhenCameraReconnects(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	addr := c.Addr()
	d := startDaemon(t, cam("press-1", c.URL()))
	d.waitState(t, "press-1", "streaming", 10*time.Second)
	v := d.dial(t, "press-1")
	before := nextUnit(t, v, 10*time.Second)

	c.Close()
	d.waitState(t, "press-1", "retrying", 10*time.Second)
	// Drain what was sent before the camera went away.
	for drained := false; !drained; {
		select {
		case au := <-v.Units():
			before = au
		case <-time.After(300 * time.Millisecond):
			drained = true
		}
	}

	startCamera(t, testcamera.Options{Addr: addr})
	d.waitState(t, "press-1", "streaming", 15*time.Second)
	after := nextUnit(t, v, 5*time.Second)
	if !h264.IsRandomAccess(after.NALUs) {
		t.Fatalf("first unit after the reconnect has NALU types %v, want an IDR", naluTypes(after.NALUs))
	}
	if int32(after.TS-before.TS) <= 0 {
		t.Fatalf("timestamp went backwards across the reconnect: %d then %d", before.TS, after.TS)
	}
	for i := 0; i < 10; i++ {
		nextUnit(t, v, 2*time.Second)
	}
	if got := d.camera(t, "press-1").Reconnects; got < 1 {
		t.Fatalf("API says %d reconnects, want at least 1", got)
	}
}

func TestUnreachableCameraRetriesWithoutAffectingOthers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	good := startCamera(t, testcamera.Options{})
	d := startDaemon(t,
		cam("dead", "rtsp://admin:hunter2@"+dead+"/stream"),
		cam("good", good.URL()),
	)
	c := d.waitState(t, "dead", "retrying", 10*time.Second)
	if !strings.Contains(c.Error, "refused") {
		t.Errorf("error %q does not say the connection was refused", c.Error)
	}
	d.waitState(t, "good", "streaming", 10*time.Second)
	v := d.dial(t, "good")
	nextUnit(t, v, 5*time.Second)

	resp, err := http.Get(d.base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestH265CameraGetsClearState(t *testing.T) {
	c := startCamera(t, testcamera.Options{Codec: "h265"})
	d := startDaemon(t, cam("gate", c.URL()))
	got := d.waitState(t, "gate", "unsupported", 10*time.Second)
	for _, want := range []string{"H265", "H264", "switch the camera"} {
		if !strings.Contains(got.Error, want) {
			t.Errorf("error %q does not mention %q", got.Error, want)
		}
	}
}

func TestCredentialsNeverLeak(t *testing.T) {
	const pass = "Xy7-secret-Pw"
	c := startCamera(t, testcamera.Options{User: "admin", Pass: pass})
	wrong := strings.Replace(c.URL(), pass, pass+"-wrong", 1)
	d := startDaemon(t, cam("ok", c.URL()), cam("badpass", wrong))
	d.waitState(t, "ok", "streaming", 10*time.Second)
	bad := d.waitState(t, "badpass", "retrying", 10*time.Second)
	if !strings.Contains(bad.Error, "401") {
		t.Errorf("error %q does not say the credentials were refused", bad.Error)
	}

	var bodies []string
	for _, path := range []string{"/api/cameras", "/api/cameras/ok", "/api/cameras/badpass", "/", "/metrics",
		"/cameras/badpass/snapshot.jpg", "/cameras/nope/mjpeg"} {
		resp, err := http.Get(d.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, string(b))
	}
	// The event stream's first message is the camera list.
	readEvents(t, d.base+"/api/events", 5*time.Second, func(name, data string) bool {
		bodies = append(bodies, data)
		return true
	})
	all := strings.Join(bodies, "\n") + d.logs.String()
	if strings.Contains(all, pass) {
		t.Fatalf("the camera password appears in the API, page or log:\n%s", all)
	}
	if !strings.Contains(bodies[0], "admin:***@") {
		t.Errorf("API does not show the redacted URL: %s", bodies[0])
	}
}

func TestMalformedWHEPRequestsGet4xx(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	d := startDaemon(t, cam("press-1", c.URL()))
	audioOnly := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	for _, tc := range []struct {
		name, method, path, ctype, body string
		want                            int
	}{
		{"unknown camera", "POST", "/cameras/nope/whep", "application/sdp", "v=0", 404},
		{"wrong content type", "POST", "/cameras/press-1/whep", "text/plain", "v=0", 415},
		{"empty offer", "POST", "/cameras/press-1/whep", "application/sdp", "", 400},
		{"garbage offer", "POST", "/cameras/press-1/whep", "application/sdp", "m=video \x00\xff garbage", 400},
		{"offer without video", "POST", "/cameras/press-1/whep", "application/sdp", audioOnly, 400},
		{"oversized offer", "POST", "/cameras/press-1/whep", "application/sdp", "m=video " + strings.Repeat("a", 200<<10), 413},
		{"delete unknown session", "DELETE", "/cameras/press-1/whep/abc", "", "", 404},
		{"trickle not supported", "PATCH", "/cameras/press-1/whep/abc", "application/trickle-ice-sdpfrag", "a=x", 405},
		{"get on whep", "GET", "/cameras/press-1/whep", "", "", 405},
		{"unknown api camera", "GET", "/api/cameras/%2e%2e", "", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, d.base+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, strings.TrimSpace(string(b)), tc.want)
			}
		})
	}
	// The daemon still serves viewers afterwards.
	v := d.dial(t, "press-1")
	nextUnit(t, v, 10*time.Second)
}

func TestWHEPOptionsAndDeleteEndSession(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	d := startDaemon(t, cam("press-1", c.URL()))
	req, _ := http.NewRequest(http.MethodOptions, d.base+"/cameras/press-1/whep", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}

	v := d.dial(t, "press-1")
	nextUnit(t, v, 10*time.Second)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "viewer count back to 0 after DELETE", func() bool {
		return d.camera(t, "press-1").Viewers == 0 && d.rtc.Sessions() == 0
	})
}

func TestVanishedViewerIsRemoved(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	d := startDaemon(t, cam("press-1", c.URL()))
	v := d.dial(t, "press-1")
	nextUnit(t, v, 10*time.Second)
	v.Abandon()
	waitFor(t, 15*time.Second, "session of a vanished viewer removed", func() bool {
		return d.rtc.Sessions() == 0 && d.camera(t, "press-1").Viewers == 0
	})
}

func TestOnDemandCameraPulledOnlyWhileWatched(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	od := cam("yard", c.URL())
	od.OnDemand = true
	d := startDaemon(t, od)
	time.Sleep(500 * time.Millisecond)
	if n := c.SessionCount(); n != 0 {
		t.Fatalf("on-demand camera has %d RTSP sessions with no viewer", n)
	}
	if s := d.camera(t, "yard").State; s != "idle" {
		t.Fatalf("state %q, want idle", s)
	}
	v := d.dial(t, "yard")
	au := nextUnit(t, v, 10*time.Second)
	if !h264.IsRandomAccess(au.NALUs) {
		t.Fatalf("first unit is not an IDR: %v", naluTypes(au.NALUs))
	}
	v.Close()
	waitFor(t, 10*time.Second, "camera released after the last viewer left", func() bool {
		return c.SessionCount() == 0 && d.camera(t, "yard").State == "idle"
	})
}

func TestDaemonStopsCleanly(t *testing.T) {
	base := runtime.NumGoroutine()
	c := startCamera(t, testcamera.Options{})
	cfg := testConfig(cam("press-1", c.URL()))
	cfg.ApplyDefaults()
	d, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-d.Ready()
	v, err := whepclient.Dial(context.Background(), "http://"+d.HTTPAddr()+"/cameras/press-1/whep", whepclient.Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	nextUnit(t, v, 10*time.Second)

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop within 5s of cancel")
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	v.Close()
	c.Close()
	waitFor(t, 5*time.Second, "goroutines back to the level before the daemon started", func() bool {
		return runtime.NumGoroutine() <= base+2
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
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

func TestStalledCameraIsReconnected(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	d := startDaemon(t, cam("press-1", c.URL()))
	d.waitState(t, "press-1", "streaming", 10*time.Second)
	v := d.dial(t, "press-1")
	nextUnit(t, v, 5*time.Second)

	c.Pause() // the RTSP session stays open, no media flows
	got := d.waitState(t, "press-1", "retrying", 15*time.Second)
	if got.Error == "" {
		t.Error("a stalled camera shows no error")
	}
	c.Resume()
	d.waitState(t, "press-1", "streaming", 15*time.Second)
	// The open viewer resumes by itself.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case au := <-v.Units():
			if h264.IsRandomAccess(au.NALUs) && au.Received.After(time.Now().Add(-time.Second)) {
				return
			}
		case <-deadline:
			t.Fatal("viewer did not resume after the stalled camera came back")
		}
	}
}

func TestAnswerAnnouncesConfiguredHosts(t *testing.T) {
	c := startCamera(t, testcamera.Options{})
	d := startDaemonWith(t, func(cfg *config.Config) { cfg.WebRTC.Hosts = []string{"192.0.2.77"} }, cam("press-1", c.URL()))
	v := d.dial(t, "press-1")
	port := d.rtc.LocalAddrs()[0].(*net.UDPAddr).Port
	want := fmt.Sprintf("192.0.2.77 %d typ host", port)
	if !strings.Contains(v.Answer(), want) {
		t.Fatalf("answer lacks candidate %q:\n%s", want, v.Answer())
	}
	if !strings.Contains(v.Answer(), fmt.Sprintf("127.0.0.1 %d typ host", port)) {
		t.Fatalf("answer lacks the loopback candidate on the media port:\n%s", v.Answer())
	}
}

func TestSystemdNotifications(t *testing.T) {
	conn := listenNotify(t)
	c := startCamera(t, testcamera.Options{})
	startDaemon(t, cam("press-1", c.URL()))

	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	if !strings.Contains(msg, "READY=1") || !strings.Contains(msg, "STATUS=") || !strings.Contains(msg, "cameras streaming") {
		t.Fatalf("first notification %q, want READY=1 with a STATUS= summary", msg)
	}
}
