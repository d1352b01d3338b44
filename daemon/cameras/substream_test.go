package cameras_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// deadURL is an RTSP URL with a password where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "rtsp://admin:hunter2@" + addr + "/stream"
}

// pictureWidth reads the width from the SPS of a player's first IDR.
func pictureWidth(t *testing.T, v *whepclient.Client) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		au := daemontest.NextUnit(t, v, time.Until(deadline))
		for _, n := range au.NALUs {
			if h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
				var sps h264.SPS
				if err := sps.Unmarshal(n); err != nil {
					t.Fatalf("bad SPS: %v", err)
				}
				return sps.Width()
			}
		}
	}
	t.Fatal("no SPS within 10 s")
	return 0
}

func TestEachStreamPlaysWhenTheOtherFails(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dead      string // the stream whose camera is unreachable
		live      string
		liveWidth int
	}{
		{"sub down", "sub", "main", 640},
		{"main down", "main", "sub", lowres.Width},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := daemontest.StartCamera(t, testcamera.Options{})
			if tc.live == "sub" {
				up = daemontest.StartCamera(t, testcamera.Options{Clip: lowres.Clip(), FPS: lowres.FPS})
			}
			cam := daemontest.Camera("press-1", up.URL())
			cam.SubURL = deadURL(t)
			if tc.dead == "main" {
				cam.URL, cam.SubURL = cam.SubURL, up.URL()
			}
			d := daemontest.Start(t, nil, cam)
			daemontest.WaitFor(t, 15*time.Second, tc.live+" streaming and "+tc.dead+" retrying", func() bool {
				c := d.Camera(t, "press-1")
				states := map[string]string{"main": c.State, "sub": c.Sub.State}
				return states[tc.live] == "streaming" && states[tc.dead] == "retrying"
			})
			if w := pictureWidth(t, d.DialStream(t, "press-1", tc.live)); w != tc.liveWidth {
				t.Errorf("%s stream plays %d pixels wide, want %d", tc.live, w, tc.liveWidth)
			}
			c := d.Camera(t, "press-1")
			failed := c.Error
			if tc.dead == "sub" {
				failed = c.Sub.Error
			}
			if !strings.Contains(failed, "refused") {
				t.Errorf("the %s stream's error %q does not say why it failed", tc.dead, failed)
			}
			_, api := daemontest.Get(t, d.URL+"/api/cameras/press-1")
			if strings.Contains(string(api), "hunter2") || strings.Contains(d.Logs.String(), "hunter2") {
				t.Error("the API or the log shows the dead stream's password")
			}
			if !strings.Contains(d.Logs.String(), "camera=press-1 stream="+tc.dead) {
				t.Errorf("no log line says camera=press-1 stream=%s", tc.dead)
			}
		})
	}
}

func TestSubStreamHealthIsInTheAPIAndMetrics(t *testing.T) {
	cam := daemontest.SubCamera(t, "press-1")
	d := daemontest.Start(t, nil, cam, daemontest.Camera("press-2", cam.URL))
	daemontest.WaitFor(t, 10*time.Second, "both streams streaming", func() bool {
		c := d.Camera(t, "press-1")
		return c.State == "streaming" && c.Sub != nil && c.Sub.State == "streaming" && c.Sub.Width > 0
	})
	c := d.Camera(t, "press-1")
	if c.Width != 640 || c.Sub.Width != lowres.Width || c.Sub.Height != lowres.Height || c.Sub.Codec == "" || c.Sub.URL != cam.SubURL {
		t.Errorf("main %dx%d, sub %+v: want 640 wide and the sub-stream's %dx%d", c.Width, c.Height, *c.Sub, lowres.Width, lowres.Height)
	}
	if other := d.Camera(t, "press-2"); other.Sub != nil {
		t.Errorf("a camera without sub_url shows a sub-stream: %+v", *other.Sub)
	}
	v := d.DialStream(t, "press-1", "sub")
	daemontest.NextUnit(t, v, 5*time.Second)
	daemontest.WaitFor(t, 5*time.Second, "the sub-stream's viewer counted", func() bool {
		c := d.Camera(t, "press-1")
		return c.Sub.Viewers == 1 && c.Viewers == 1
	})
	for series, want := range map[string]float64{
		`edgecam_camera_up{camera="press-1",stream="sub"}`:                          1,
		`edgecam_camera_up{camera="press-1",stream="main"}`:                         1,
		`edgecam_camera_viewers{camera="press-1",stream="sub",transport="webrtc"}`:  1,
		`edgecam_camera_viewers{camera="press-1",stream="main",transport="webrtc"}`: 0,
	} {
		if got, ok := daemontest.Scrape(t, d.URL, series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if _, ok := daemontest.Scrape(t, d.URL, `edgecam_camera_up{camera="press-2",stream="sub"}`); ok {
		t.Error("a camera without sub_url has sub-stream series")
	}
}

func TestOnDemandCameraPullsOnlyTheStreamWatched(t *testing.T) {
	main := daemontest.StartCamera(t, testcamera.Options{})
	sub := daemontest.StartCamera(t, testcamera.Options{Clip: lowres.Clip(), FPS: lowres.FPS})
	cam := daemontest.Camera("yard", main.URL())
	cam.SubURL, cam.OnDemand = sub.URL(), true
	d := daemontest.Start(t, nil, cam) // linger 500 ms
	v := d.DialStream(t, "yard", "sub")
	if w := pictureWidth(t, v); w != lowres.Width {
		t.Errorf("the sub-stream plays %d pixels wide, want %d", w, lowres.Width)
	}
	if c := d.Camera(t, "yard"); c.State != "idle" || c.Sub.State != "streaming" || main.SessionCount() != 0 {
		t.Errorf("main %q with %d RTSP sessions, sub %q: want the main stream idle, not pulled", c.State, main.SessionCount(), c.Sub.State)
	}
	v.Close()
	daemontest.WaitFor(t, 10*time.Second, "the sub-stream released after its last viewer left", func() bool {
		return sub.SessionCount() == 0 && d.Camera(t, "yard").Sub.State == "idle"
	})
}
