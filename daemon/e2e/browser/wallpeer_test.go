//go:build browser

package browser

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon"
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

// offersJS describes the offers of the page's peer connections: how many
// video sections each has, its size, and the codecs it lists other than
// H.264.
const offersJS = `(window.__edgecamPeers || []).filter((pc) => pc.localDescription).map((pc) => {
  const sdp = pc.localDescription.sdp;
  return {
    sections: (sdp.match(/^m=video/gm) || []).length,
    bytes: sdp.length,
    others: [...new Set((sdp.match(/^a=rtpmap:\d+ [^/\r\n]+/gm) || []).map((l) => l.split(' ')[1]))].filter((c) => c !== 'H264'),
  };
})`

type offer struct {
	Sections int      `json:"sections"`
	Bytes    int      `json:"bytes"`
	Others   []string `json:"others"`
}

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
	// The wall's cameras are known to send H.264: its offers list nothing
	// else, which keeps an offer of eight sections small for both ends.
	full := 0 // offers of a full connection, eight cameras
	for _, o := range evalIn[[]offer](t, b, offersJS) {
		t.Logf("wall offer: %d sections, %d bytes", o.Sections, o.Bytes)
		if o.Sections > 1 && len(o.Others) > 0 {
			t.Errorf("a wall's offer of %d sections lists %v besides H.264", o.Sections, o.Others)
		}
		if o.Sections == 8 {
			full++
		}
	}
	if full != 1 {
		t.Errorf("%d offers of eight sections, want 1", full)
	}

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

// whepPostsJS counts the page's WHEP offers that named a camera, its own
// endpoint's or a wall's.
const whepPostsJS = `((name) => performance.getEntriesByType('resource').filter((e) => {
  const u = new URL(e.name);
  return u.pathname === '/cameras/' + name + '/whep' || (u.pathname === '/whep' && u.searchParams.getAll('camera').includes(name));
}).length)(%q)`

// A reload that changes one camera of a wall ends that camera's session
// alone: its tile sees the server's reports on its track stop and plays
// the new camera seconds sooner than a stalled video would be noticed
// (10 s), while the other tiles of its connection play on.
func TestBrowserWallTileFollowsACameraChangedByReload(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	first := daemontest.StartCamera(t, testcamera.Options{})
	second := daemontest.StartCamera(t, testcamera.Options{})
	names := []string{"cam-1", "cam-2", "cam-3"}
	config3 := func(cam2 string) *config.Config {
		cfg := daemontest.Config(daemontest.Camera(names[0], first.URL()), daemontest.Camera(names[1], cam2),
			daemontest.Camera(names[2], first.URL()))
		cfg.ApplyDefaults()
		return cfg
	}
	var next atomic.Pointer[config.Config]
	reload := make(chan struct{})
	d := daemontest.Run(t, config3(first.URL()), daemon.Options{
		Reload: reload,
		Load:   func() (*config.Config, error) { return next.Load(), nil },
	})
	for _, n := range names {
		d.WaitState(t, n, "streaming", 10*time.Second)
	}
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	for _, n := range names {
		b.waitTile(t, n, 20*time.Second, "live", func(v tileView) bool { return v.State == "live" && v.VideoFrames > 0 })
	}
	if n := evalIn[int](t, b, fmt.Sprintf(whepPostsJS, "cam-2")); n != 1 {
		t.Fatalf("cam-2's tile posted %d offers before the reload, want 1", n)
	}

	// The server reports on each track once a second: a session ended
	// before its first report leaves the tile to notice the stall (10 s).
	time.Sleep(2 * time.Second)
	next.Store(config3(second.URL()))
	changed := time.Now()
	reload <- struct{}{}
	deadline := changed.Add(8 * time.Second)
	for evalIn[int](t, b, fmt.Sprintf(whepPostsJS, "cam-2")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("cam-2's tile asked for no new session within 8 s of the reload that changed its camera: %s", b.tile(t, "cam-2"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("cam-2's tile asked again %s after the reload", time.Since(changed).Round(time.Millisecond))
	for _, n := range []string{"cam-1", "cam-3"} {
		if p := evalIn[int](t, b, fmt.Sprintf(whepPostsJS, n)); p != 1 {
			t.Errorf("%s's tile posted %d offers; the reload did not change its camera", n, p)
		}
	}
	for _, n := range names {
		b.waitTile(t, n, 20*time.Second, "live again", func(v tileView) bool { return v.State == "live" && v.VideoFrames > 0 })
	}
	daemontest.WaitFor(t, 10*time.Second, "a session per tile again", func() bool { return d.WebRTCSessions() == len(names) })
}
