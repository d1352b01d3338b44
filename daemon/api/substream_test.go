package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// subDaemon runs a daemon with "press-1", whose main stream is the 640×360
// test clip and whose sub-stream the 320×240 one, and "press-2" without a
// sub-stream.
func subDaemon(t *testing.T) *daemontest.Daemon {
	t.Helper()
	cam := daemontest.SubCamera(t, "press-1")
	d := daemontest.Start(t, nil, cam, daemontest.Camera("press-2", cam.URL))
	daemontest.WaitFor(t, 10*time.Second, "both streams of press-1 streaming", func() bool {
		c := d.Camera(t, "press-1")
		return c.State == "streaming" && c.Sub != nil && c.Sub.State == "streaming"
	})
	return d
}

func TestStreamQueryIsCheckedOnEveryVideoEndpoint(t *testing.T) {
	d := subDaemon(t)
	endpoints := []struct {
		method, path string
	}{
		{"GET", "/snapshot.jpg"},
		{"GET", "/mjpeg"},
		{"GET", "/ws"},
		{"GET", "/frames"},
		{"POST", "/whep"},
	}
	for _, e := range endpoints {
		for _, tc := range []struct {
			camera, query string
			code          int
			msg           string
		}{
			{"press-2", "stream=sub", http.StatusNotFound, `camera "press-2" has no sub stream`},
			{"press-1", "stream=hd", http.StatusBadRequest, `stream="hd": want main or sub`},
			{"press-1", "stream=", -1, ""}, // empty is the main stream: not refused for the stream
		} {
			req, _ := http.NewRequest(e.method, d.URL+"/cameras/"+tc.camera+e.path+"?"+tc.query, strings.NewReader("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"))
			req.Header.Set("Content-Type", "application/sdp")
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body strings.Builder
			buf := make([]byte, 512)
			n, _ := resp.Body.Read(buf)
			body.Write(buf[:n])
			resp.Body.Close()
			switch {
			case tc.code < 0 && (resp.StatusCode == http.StatusNotFound || strings.Contains(body.String(), "stream=")):
				t.Errorf("%s %s?%s: %d %q, want the main stream", e.method, e.path, tc.query, resp.StatusCode, body.String())
			case tc.code > 0 && (resp.StatusCode != tc.code || !strings.Contains(body.String(), tc.msg)):
				t.Errorf("%s /cameras/%s%s?%s: %d %q, want %d %q", e.method, tc.camera, e.path, tc.query, resp.StatusCode, body.String(), tc.code, tc.msg)
			}
		}
	}
}

func TestSubStreamQueryServesTheSubStreamsPictures(t *testing.T) {
	daemontest.NeedFFmpeg(t)
	d := subDaemon(t)
	for _, tc := range []struct {
		query string
		w, h  int
	}{
		{"", 640, 360},
		{"?stream=main", 640, 360},
		{"?stream=sub", lowres.Width, lowres.Height},
	} {
		code, body := daemontest.Get(t, d.URL+"/cameras/press-1/snapshot.jpg"+tc.query)
		if code != http.StatusOK {
			t.Fatalf("snapshot%s: %d %s", tc.query, code, body)
		}
		if w, h := jpegSize(t, body); w != tc.w || h != tc.h {
			t.Errorf("snapshot%s is %dx%d, want %dx%d", tc.query, w, h, tc.w, tc.h)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ws := "ws" + strings.TrimPrefix(d.URL, "http") + "/cameras/press-1"
	for _, tc := range []struct {
		path string
		into any
	}{
		{"/frames?stream=sub&format=jpeg", &api.FramesInfo{}},
		{"/ws?stream=sub", &api.WSInfo{}},
	} {
		conn, _, err := websocket.Dial(ctx, ws+tc.path, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		_, data, err := conn.Read(ctx)
		conn.CloseNow()
		if err != nil || json.Unmarshal(data, tc.into) != nil {
			t.Fatalf("%s: first message %q, %v", tc.path, data, err)
		}
		var stream string
		var w int
		switch info := tc.into.(type) {
		case *api.FramesInfo:
			stream, w = info.Stream, info.Width
		case *api.WSInfo:
			stream, w = info.Stream, info.Width
		}
		if stream != "sub" || w != lowres.Width {
			t.Errorf("%s: info says stream %q, %d wide; want sub, %d", tc.path, stream, w, lowres.Width)
		}
	}
	daemontest.WaitFor(t, 5*time.Second, "the sub-stream's viewers logged with stream=sub", func() bool {
		return strings.Contains(d.Logs.String(), `msg="viewer left" camera=press-1 stream=sub transport=websocket`)
	})
}

func TestEventsSayWhichStreamWentOffline(t *testing.T) {
	main := daemontest.StartCamera(t, testcamera.Options{})
	sub := daemontest.StartCamera(t, testcamera.Options{Clip: lowres.Clip(), FPS: lowres.FPS})
	cam := daemontest.Camera("press-1", main.URL())
	cam.SubURL = sub.URL()
	d := daemontest.Start(t, nil, cam)
	daemontest.WaitFor(t, 10*time.Second, "both streams streaming", func() bool {
		c := d.Camera(t, "press-1")
		return c.State == "streaming" && c.Sub.State == "streaming"
	})
	go func() {
		time.Sleep(300 * time.Millisecond)
		sub.Close()
	}()
	events := readEvents(t, d.URL+"/api/events", 15*time.Second, func(name, data string) bool {
		return name == "camera" && strings.Contains(data, `"event":"offline"`)
	})
	last := events[len(events)-1]
	if !strings.Contains(last, `"stream":"sub"`) || !strings.Contains(last, `"camera":"press-1"`) {
		t.Fatalf("the offline event does not name press-1's sub-stream: %v", events)
	}
	if c := d.Camera(t, "press-1"); c.State != "streaming" || c.Sub.State != "retrying" {
		t.Errorf("main %q, sub %q after the sub-stream's camera went away; want streaming and retrying", c.State, c.Sub.State)
	}
}

// A WebRTC viewer of the sub-stream gets its pictures, and its session's
// log lines say which stream it plays.
func TestWHEPViewerOfTheSubStream(t *testing.T) {
	d := subDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := whepclient.Dial(ctx, d.URL+"/cameras/press-1/whep?stream=sub", whepclient.Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	au := daemontest.NextUnit(t, v, 10*time.Second)
	var sps h264.SPS
	if err := sps.Unmarshal(au.NALUs[0]); err != nil || sps.Width() != lowres.Width {
		t.Fatalf("first unit's SPS: %v, %d wide; want the sub-stream's %d", err, sps.Width(), lowres.Width)
	}
	daemontest.WaitFor(t, 5*time.Second, "the session logged with stream=sub", func() bool {
		return strings.Contains(d.Logs.String(), `msg="viewer joined" camera=press-1 stream=sub session=`)
	})
}
