package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/vision"
	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// visionDaemon runs a daemon with one camera, "line-1", serving the vision
// clip, whose pictures may be decoded at its full rate; the test is skipped
// without ffmpeg.
func visionDaemon(t *testing.T) *daemontest.Daemon {
	t.Helper()
	daemontest.NeedFFmpeg(t)
	c := daemontest.StartCamera(t, testcamera.Options{Clip: vision.Clip()})
	d := daemontest.Start(t, func(cfg *config.Config) { cfg.JPEG.FPS = vision.FPS }, daemontest.Camera("line-1", c.URL()))
	d.WaitState(t, "line-1", "streaming", 10*time.Second)
	return d
}

// frameSocket is a model's end of /frames.
type frameSocket struct {
	t    *testing.T
	conn *websocket.Conn
	ctx  context.Context
}

func dialFrames(t *testing.T, d *daemontest.Daemon, query string) (*frameSocket, api.FramesInfo) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.URL, "http")+"/cameras/line-1/frames?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(8 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	fs := &frameSocket{t: t, conn: conn, ctx: ctx}
	var info api.FramesInfo
	fs.readJSON(&info)
	if info.Type != "info" || info.Version != api.FramesVersion || info.Camera != "line-1" {
		t.Fatalf("first message %+v, want the info", info)
	}
	return fs, info
}

func (fs *frameSocket) readJSON(v any) {
	fs.t.Helper()
	typ, data, err := fs.conn.Read(fs.ctx)
	if err != nil || typ != websocket.MessageText {
		fs.t.Fatalf("reading a text message: %v %v", typ, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		fs.t.Fatalf("%s: %v", data, err)
	}
}

// next reads one picture: its metadata, then its pixels.
func (fs *frameSocket) next() (api.FrameMeta, []byte) {
	fs.t.Helper()
	var m api.FrameMeta
	fs.readJSON(&m)
	if m.Type != "frame" {
		fs.t.Fatalf("got %+v, want a frame's metadata", m)
	}
	typ, data, err := fs.conn.Read(fs.ctx)
	if err != nil || typ != websocket.MessageBinary {
		fs.t.Fatalf("reading the picture: %v %v", typ, err)
	}
	return m, data
}

func (fs *frameSocket) send(v any) {
	fs.t.Helper()
	data, _ := json.Marshal(v)
	if err := fs.conn.Write(fs.ctx, websocket.MessageText, data); err != nil {
		fs.t.Fatal(err)
	}
}

func TestFramesGiveRawPicturesWithTheirSource(t *testing.T) {
	t.Parallel()
	d := visionDaemon(t)
	fs, info := dialFrames(t, d, "format=gray&width=320&fps=25")
	if info.Format != "gray" || info.Width != 320 || info.Height != 180 || info.Stride != 320 {
		t.Fatalf("info %+v, want gray 320x180", info)
	}
	var first api.FrameMeta
	firstNumber := 0
	for i := range 40 {
		m, pix := fs.next()
		if len(pix) != m.Size || m.Size != m.Stride*m.Height || m.Width != 320 || m.Received.IsZero() || m.Time.Before(m.Received) {
			t.Fatalf("picture %d: %+v with %d bytes", i, m, len(pix))
		}
		n := vision.Picture{Pix: pix, Width: m.Width, Height: m.Height, Stride: m.Stride, BytesPerPixel: 1}.FrameNumber()
		if i == 0 {
			first, firstNumber = m, n
			continue
		}
		// The camera sends a frame every 3600 ticks: the frames between two
		// pictures, by their PTS, are the frames between them in the clip.
		frames := int(int32(m.PTS-first.PTS)) / 3600
		if want := (firstNumber + frames) % vision.Frames; n != want {
			t.Fatalf("picture %d shows frame %d, its PTS says %d", i, n, want)
		}
	}
	// Every picture is counted as a frames viewer of the camera.
	if c := d.Camera(t, "line-1"); c.ViewersByTransport.Frames != 1 {
		t.Fatalf("viewers %+v, want one on frames", c.ViewersByTransport)
	}
}

func TestFramesRefuseBadQueries(t *testing.T) {
	t.Parallel()
	d := daemontest.Start(t, nil, daemontest.Camera("line-1", "rtsp://127.0.0.1:1/none"))
	for _, q := range []string{"format=bmp", "format=gray&quality=50", "keyframes_only=maybe", "fps=0", "width=8"} {
		code, body := daemontest.Get(t, d.URL+"/cameras/line-1/frames?"+q)
		if code != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", q, code, body)
		}
	}
	if code, _ := daemontest.Get(t, d.URL+"/cameras/nope/frames"); code != http.StatusNotFound {
		t.Errorf("unknown camera: %d, want 404", code)
	}
}

// post sends a detections message and returns the status and the answer.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func detection(pts uint32, model string, x float64) string {
	return fmt.Sprintf(`{"version":1,"pts":%d,"model":%q,"objects":[{"label":"marker","score":0.9,"box":{"x":%g,"y":0.28,"w":0.0625,"h":0.11}}]}`, pts, model, x)
}

func TestDetectionsReachViewersAPIAndMetrics(t *testing.T) {
	t.Parallel()
	d := visionDaemon(t)
	fs, _ := dialFrames(t, d, "format=gray&width=160")
	m, _ := fs.next()

	events := make(chan []string, 1)
	go func() {
		events <- readEvents(t, d.URL+"/api/events?detections=1", 15*time.Second, func(name, data string) bool {
			return name == "detections" && strings.Contains(data, `"model":"socket-model"`)
		})
	}()
	time.Sleep(200 * time.Millisecond) // the subscriber joins
	if code, body := post(t, d.URL+"/cameras/line-1/detections", detection(m.PTS, "posted-model", 0.5)); code != http.StatusNoContent {
		t.Fatalf("POST: %d %s", code, body)
	}
	// On the socket, a model may name the frame by its seq.
	fs.send(map[string]any{"type": "detections", "seq": m.Seq, "model": "socket-model",
		"objects": []any{map[string]any{"label": "marker", "score": 1, "box": map[string]float64{"x": 0.1, "y": 0.2, "w": 0.1, "h": 0.1}}}})
	seen := <-events
	var got []string
	for _, e := range seen {
		if strings.HasPrefix(e, "detections ") {
			got = append(got, e)
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], `"model":"posted-model"`) || !strings.Contains(got[0], fmt.Sprintf(`"pts":%d`, m.PTS)) ||
		!strings.Contains(got[1], fmt.Sprintf(`"pts":%d`, m.PTS)) || !strings.Contains(got[0], `"camera":"line-1"`) {
		t.Fatalf("detection events %q", got)
	}

	c := d.Camera(t, "line-1")
	if c.Detections == nil || c.Detections.Model != "socket-model" || c.Detections.Latency <= 0 || c.Detections.PerSecond <= 0 {
		t.Fatalf("API detections %+v", c.Detections)
	}
	if v, ok := daemontest.Scrape(t, d.URL, `edgecam_detections_total{camera="line-1",label="marker"}`); !ok || v != 2 {
		t.Fatalf("edgecam_detections_total = %v, %v; want 2", v, ok)
	}
	if v, ok := daemontest.Scrape(t, d.URL, `edgecam_detection_latency_seconds_count{camera="line-1"}`); !ok || v != 2 {
		t.Fatalf("latency count = %v, %v; want 2", v, ok)
	}
	// A page that joins now gets the current detections at once.
	late := readEvents(t, d.URL+"/api/events?detections=1", 5*time.Second, func(name, data string) bool { return name == "detections" })
	if last := late[len(late)-1]; !strings.HasPrefix(last, "detections ") {
		t.Fatalf("a late subscriber got %q", late)
	}
	// A page that does not ask for them gets none.
	plain := readEvents(t, d.URL+"/api/events", 1500*time.Millisecond, func(name, data string) bool { return name == "detections" })
	for _, e := range plain {
		if strings.HasPrefix(e, "detections ") {
			t.Fatalf("an event stream without ?detections=1 got %q", e)
		}
	}
}

func TestBadDetectionsGetA4xxThatSaysWhy(t *testing.T) {
	t.Parallel()
	d := visionDaemon(t)
	fs, _ := dialFrames(t, d, "format=gray&width=160")
	m, _ := fs.next()
	url := d.URL + "/cameras/line-1/detections"
	for _, tc := range []struct {
		name, url, body string
		status          int
		says            string
	}{
		{"unknown camera", d.URL + "/cameras/nope/detections", detection(m.PTS, "m", 0.1), 404, "no camera"},
		{"malformed JSON", url, `{"pts":`, 400, "not a detections message"},
		{"box outside", url, detection(m.PTS, "m", 0.97), 422, "box"},
		{"unknown frame", url, detection(m.PTS+1, "m", 0.1), 422, "no frame"},
		{"no frame named", url, `{"model":"m","objects":[]}`, 422, "pts"},
		{"seq over HTTP", url, `{"seq":1,"model":"m","objects":[]}`, 422, "seq"},
		{"too large", url, `{"model":"` + strings.Repeat("m", 70<<10) + `"}`, 413, "larger than"},
	} {
		code, body := post(t, tc.url, tc.body)
		if code != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, code, body, tc.status, tc.says)
		}
	}
	// On the socket, a refused message gets an error message back, and
	// the pictures go on.
	fs.send(map[string]any{"type": "detections", "seq": 1 << 40, "model": "m", "objects": []any{}})
	for range 10 {
		var e struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
			Error  string `json:"error"`
		}
		fs.readJSON(&e)
		if e.Type == "error" {
			if e.Status != 422 || !strings.Contains(e.Error, "seq") {
				t.Fatalf("socket error %+v", e)
			}
			break
		}
		fs.conn.Read(fs.ctx) // the picture after a frame's metadata
	}
	// Posting faster than allowed gets 429 and leaves the camera alone.
	codes := map[int]int{}
	for range 80 {
		code, _ := post(t, url, detection(m.PTS, "flood", 0.1))
		codes[code]++
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("80 posts at once: %v, want some 429", codes)
	}
	if c := d.Camera(t, "line-1"); c.State != "streaming" {
		t.Fatalf("camera %s after the flood", c.State)
	}
}

// The page's JPEG tiles ask for each picture's metadata, to draw the
// detections of its frame.
func TestJPEGWebSocketSaysWhichFrameEachPictureIs(t *testing.T) {
	t.Parallel()
	d := visionDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.URL, "http")+"/cameras/line-1/ws?meta=1&width=320", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	fs := &frameSocket{t: t, conn: conn, ctx: ctx}
	var info api.WSInfo
	fs.readJSON(&info)
	for range 3 {
		m, jpg := fs.next()
		if m.Format != "jpeg" || m.Size != len(jpg) || m.Received.IsZero() || !bytes.HasPrefix(jpg, []byte{0xff, 0xd8}) {
			t.Fatalf("metadata %+v for %d bytes", m, len(jpg))
		}
	}
}
