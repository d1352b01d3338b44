//go:build browser

package browser

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// peerCountScript keeps every peer connection a document makes, so a test
// can count those that carry video and those still open.
const peerCountScript = `(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig) return;
  const pcs = [];
  window.__edgecamPeers = pcs;
  window.RTCPeerConnection = class extends Orig {
    constructor(...a) { super(...a); pcs.push(this); }
  };
})()`

// peerCounts are the page's peer connections that received an answer:
// all of them, and those not closed yet.
const peerCountsJS = `(() => {
  const pcs = (window.__edgecamPeers || []).filter((pc) => pc.remoteDescription);
  return { answered: pcs.length, open: pcs.filter((pc) => pc.connectionState !== 'closed').length };
})()`

type peerCounts struct {
	Answered int `json:"answered"`
	Open     int `json:"open"`
}

// tenCameras runs a daemon with ten cameras, cam-1 to cam-10, all playing
// one test camera, and returns it and their names once they stream.
func tenCameras(t *testing.T, tweak func(*config.Config)) (*daemontest.Daemon, []string) {
	t.Helper()
	cam := daemontest.StartCamera(t, testcamera.Options{})
	var cams []config.Camera
	var names []string
	for i := range 10 {
		n := fmt.Sprintf("cam-%d", i+1)
		names = append(names, n)
		cams = append(cams, daemontest.Camera(n, cam.URL()))
	}
	d := daemontest.Start(t, tweak, cams...)
	for _, n := range names {
		d.WaitState(t, n, "streaming", 10*time.Second)
	}
	return d, names
}

// A wall of ten cameras opens in two peer connections (eight and two
// sections) instead of ten, each camera still a session of its own on the
// server: opening one camera full size ends the other nine's sessions and
// closes both connections, with no request answered 404, and the grid
// comes back the same way.
func TestBrowserWallSharesPeerConnections(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	d, names := tenCameras(t, nil)
	b := startBrowser(t)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: peerCountScript}); err != nil {
		t.Fatal(err)
	}

	gridLive := func(what string) {
		t.Helper()
		for _, n := range names {
			b.waitTile(t, n, 20*time.Second, what, func(v tileView) bool {
				return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
			})
		}
		if n := d.WebRTCSessions(); n != len(names) {
			t.Fatalf("%s: the server has %d WebRTC sessions for %d tiles", what, n, len(names))
		}
		if c := evalIn[peerCounts](t, b, peerCountsJS); c.Open != 2 {
			t.Fatalf("%s: %d peer connections open (%d answered), want 2: one per eight cameras", what, c.Open, c.Answered)
		}
	}

	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	gridLive("live in the grid")

	evalIn[string](t, b, `location.hash = '#/camera/cam-3'`)
	b.waitTile(t, "cam-3", 20*time.Second, "live full size", func(v tileView) bool {
		return v.State == "live" && v.VideoFrames > 0
	})
	daemontest.WaitFor(t, 10*time.Second, "the other nine sessions ended", func() bool {
		return d.WebRTCSessions() == 1
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The full-size tile goes on playing on its connection.
		if c := evalIn[peerCounts](t, b, peerCountsJS); c.Open == 1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("full size: %d peer connections still open, want 1", c.Open)
		}
		time.Sleep(50 * time.Millisecond)
	}

	evalIn[string](t, b, `location.hash = ''`)
	deadline = time.Now().Add(10 * time.Second)
	for d.WebRTCSessions() != len(names) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, n := range names {
		b.waitTile(t, n, 20*time.Second, "live in the grid again", func(v tileView) bool {
			return v.State == "live" && v.VideoFrames > 0
		})
	}
	if n := d.WebRTCSessions(); n != len(names) {
		t.Fatalf("back in the grid: %d WebRTC sessions for %d tiles", n, len(names))
	}
	b.noConsoleProblems(t)
}

// A wall the server cannot take whole (more cameras than WebRTC places
// left) still plays every camera: its tiles try again each on a session of
// its own, and those that find no place left play over JPEG, as a single
// tile refused by a full server does.
func TestBrowserWallRefusedWholeStillPlaysEveryCamera(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	const places = 5
	d, names := tenCameras(t, func(c *config.Config) { c.WebRTC.MaxViewers = places })
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	webrtc := 0
	for _, n := range names {
		v := b.waitTile(t, n, 30*time.Second, "live", func(v tileView) bool {
			return v.State == "live" && (v.VideoFrames > 0 || v.JPEGWidth > 0)
		})
		if v.Transport == "webrtc" {
			webrtc++
		}
	}
	if webrtc != places || d.WebRTCSessions() != places {
		t.Fatalf("%d tiles on WebRTC and %d sessions, want %d of each: every place taken", webrtc, d.WebRTCSessions(), places)
	}
}
