package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// jpegDaemon runs a daemon, its config changed by tweak if not nil, with one
// streaming test camera "press-1"; the test is skipped without ffmpeg.
func jpegDaemon(t *testing.T, tweak func(*config.Config)) *daemontest.Daemon {
	t.Helper()
	daemontest.NeedFFmpeg(t)
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, tweak, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	return d
}

func jpegSize(t *testing.T, b []byte) (int, int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a JPEG (%d bytes): %v", len(b), err)
	}
	return cfg.Width, cfg.Height
}

func TestSnapshotIsAJPEGOfTheCamera(t *testing.T) {
	d := jpegDaemon(t, nil)
	for _, tc := range []struct {
		query string
		w, h  int
	}{
		{"", 640, 360},
		{"?width=320", 320, 180},
		{"?width=320&quality=20", 320, 180},
		{"?width=99999", 640, 360}, // clamped to max_width, never upscaled
	} {
		start := time.Now()
		resp, err := daemontest.Client().Get(d.URL + "/cameras/press-1/snapshot.jpg" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("snapshot%s: %d %s: %s", tc.query, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if w, h := jpegSize(t, b); w != tc.w || h != tc.h {
			t.Fatalf("snapshot%s is %dx%d, want %dx%d", tc.query, w, h, tc.w, tc.h)
		}
		t.Logf("snapshot%s: %d bytes in %s", tc.query, len(b), time.Since(start).Round(time.Millisecond))
	}
}

func TestMJPEGReadableByFFprobeAndMultipart(t *testing.T) {
	d := jpegDaemon(t, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0",
		d.URL+"/cameras/press-1/mjpeg?width=320").CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "mjpeg,320,180" {
		t.Fatalf("ffprobe says %q, want mjpeg,320,180", got)
	}

	// Read a few parts the way a browser's <img> or OpenCV does. Three
	// parts at 5 fps take a second; the deadline turns a part that never
	// ends (no delimiter after it) into a failure.
	resp := daemontest.Open(t, d.URL+"/cameras/press-1/mjpeg?fps=5", 10*time.Second)
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		t.Fatalf("content type %q, want multipart/x-mixed-replace with a boundary", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for i := 0; i < 3; i++ {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if p.Header.Get("Content-Type") != "image/jpeg" || p.Header.Get("Content-Length") == "" {
			t.Fatalf("part header %v", p.Header)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d does not end with the boundary %q: %v", i, params["boundary"], err)
		}
		if w, h := jpegSize(t, b); w != 640 || h != 360 {
			t.Fatalf("part %d is %dx%d", i, w, h)
		}
	}
}

func TestWebSocketSendsInfoThenJPEGs(t *testing.T) {
	d := jpegDaemon(t, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.URL, "http")+"/cameras/press-1/ws?width=320", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	typ, msg, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageText {
		t.Fatalf("first message: %v %v", typ, err)
	}
	var info api.WSInfo
	if err := json.Unmarshal(msg, &info); err != nil || info.Type != "info" || info.Camera != "press-1" || info.Width != 320 || info.Height != 180 || info.FPS != 5 {
		t.Fatalf("info message %s (%v)", msg, err)
	}
	for i := 0; i < 5; i++ {
		typ, msg, err := ws.Read(ctx)
		if err != nil || typ != websocket.MessageBinary {
			t.Fatalf("frame %d: %v %v", i, typ, err)
		}
		if w, h := jpegSize(t, msg); w != 320 || h != 180 {
			t.Fatalf("frame %d is %dx%d", i, w, h)
		}
	}
	ws.Close(websocket.StatusNormalClosure, "")
}

func TestDecoderRunsOnlyWhileJPEGViewersExist(t *testing.T) {
	d := jpegDaemon(t, nil)
	hub := d.Running(t, "press-1").JPEG()
	if n := hub.Stats().Decoders; n != 0 {
		t.Fatalf("%d decoders with no JPEG viewer", n)
	}

	// Three viewers share one decoder.
	var bodies []io.Closer
	for i := 0; i < 3; i++ {
		resp, err := daemontest.Client().Get(d.URL + "/cameras/press-1/mjpeg")
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
		br := bufio.NewReader(resp.Body)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if n := hub.Stats().Decoders; n != 1 {
		t.Fatalf("%d decoders for three viewers of the same picture, want 1", n)
	}
	for _, b := range bodies {
		b.Close()
	}
	daemontest.WaitFor(t, 10*time.Second, "decoder stopped after the last JPEG viewer left", func() bool {
		return hub.Stats().Decoders == 0
	})
}

func TestStuckMJPEGViewerDoesNotStallAnother(t *testing.T) {
	t.Parallel() // it waits out a write timeout
	d := jpegDaemon(t, nil)

	// A client that asks and then never reads.
	stuck, err := net.Dial("tcp", d.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	io.WriteString(stuck, "GET /cameras/press-1/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")
	if tc, ok := stuck.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}

	// Reads past the 8 s of reading below fail: the deadline only turns a
	// stalled stream into a failure.
	resp := daemontest.Open(t, d.URL+"/cameras/press-1/mjpeg", 30*time.Second)
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mr := multipart.NewReader(resp.Body, params["boundary"])
	deadline := time.Now().Add(8 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, p)
		n++
	}
	// 5 fps for 8 s while the other viewer's socket is full.
	if n < 20 {
		t.Fatalf("the reading viewer got %d frames in 8s, want about 40", n)
	}
}

func TestJPEGEndpointsRefuseBadInput(t *testing.T) {
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, func(cfg *config.Config) { cfg.JPEG.FFmpeg = "/nonexistent/ffmpeg" }, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	for _, tc := range []struct {
		path string
		want int
		body string
	}{
		{"/cameras/nope/mjpeg", 404, "no camera"},
		{"/cameras/press-1/mjpeg?fps=abc", 400, "fps"},
		{"/cameras/press-1/mjpeg?fps=-1", 400, "fps"},
		{"/cameras/press-1/ws?width=3", 400, "width"},
		{"/cameras/press-1/snapshot.jpg?quality=101", 400, "quality"},
		{"/cameras/press-1/snapshot.jpg?overlay=boxes", 400, "overlay"},
		{"/cameras/press-1/snapshot.jpg", 503, "ffmpeg"},
		{"/cameras/press-1/mjpeg", 503, "ffmpeg"},
	} {
		resp, err := daemontest.Client().Get(d.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: %d %q, want %d mentioning %q", tc.path, resp.StatusCode, b, tc.want, tc.body)
		}
	}
}

func TestWebSocketExplainsMissingFFmpeg(t *testing.T) {
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, func(cfg *config.Config) { cfg.JPEG.FFmpeg = "/nonexistent/ffmpeg" }, daemontest.Camera("press-1", c.URL()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.URL, "http")+"/cameras/press-1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	typ, msg, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageText || !strings.Contains(string(msg), `"type":"error"`) || !strings.Contains(string(msg), "ffmpeg") {
		t.Fatalf("first message %q (%v), want an error naming ffmpeg", msg, err)
	}
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusInternalError {
		t.Fatalf("close: %v, want status 1011", err)
	}
}

// A multipart reader knows a part is complete only when it sees the
// delimiter after it. With keyframes_only the next picture is a GOP away, so a
// delimiter sent in front of each picture would hold every picture back by a
// GOP; edgecam sends it right after each picture.
func TestMJPEGPartEndsWithoutWaitingForTheNextPicture(t *testing.T) {
	d := jpegDaemon(t, func(cfg *config.Config) { cfg.JPEG.KeyframesOnly = true })

	// A keyframe comes every second: the deadline leaves room for several.
	resp := daemontest.Open(t, d.URL+"/cameras/press-1/mjpeg", 10*time.Second)
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(p)
	if err != nil {
		t.Fatalf("the first part does not end: %v", err)
	}
	if w, h := jpegSize(t, b); w != 640 || h != 360 {
		t.Fatalf("first part is %dx%d, want 640x360", w, h)
	}
	if n := d.Running(t, "press-1").JPEG().Stats().Frames; n != 1 {
		t.Fatalf("the first part ended after the decoder produced %d pictures, want 1 (it waited for the next picture)", n)
	}
}
