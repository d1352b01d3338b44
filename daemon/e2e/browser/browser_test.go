//go:build browser

package browser

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// Every browser test starts with inTestNetns: it runs in a network namespace
// of its own, see browser_helpers_test.go.

func TestBrowserShowsEveryCameraLiveOverWebRTC(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	names := []string{"press-1", "press-2"}
	c1 := daemontest.StartCamera(t, testcamera.Options{})
	c2 := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera(names[0], c1.URL()), daemontest.Camera(names[1], c2.URL()))
	for _, n := range names {
		d.WaitState(t, n, "streaming", 10*time.Second)
	}
	b := startBrowser(t)
	b.installFirstFrameProbe(t)

	// Time to first frame: from navigation start until every tile has
	// presented its first decoded frame, over a few loads of the page.
	const loads = 3
	var perLoad []float64
	for i := 0; i < loads; i++ {
		b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
		var last tileView
		for _, n := range names {
			v := b.waitTile(t, n, 10*time.Second, "showing a first frame", func(v tileView) bool {
				return v.FirstFrameMs > 0
			})
			if v.FirstFrameMs > last.FirstFrameMs {
				last = v
			}
		}
		t.Logf("load %d: every tile showed its first frame %.0f ms after navigation start "+
			"(slowest tile: WHEP offer posted at %.0f ms, answered at %.0f ms)",
			i+1, last.FirstFrameMs, last.WHEPSentMs, last.WHEPAnsweredMs)
		perLoad = append(perLoad, last.FirstFrameMs)
	}
	slices.Sort(perLoad)
	t.Logf("time to first frame: %.0f ms (median of %d loads, %.0f–%.0f ms)",
		perLoad[len(perLoad)/2], loads, perLoad[0], perLoad[len(perLoad)-1])

	for _, n := range names {
		v := b.waitTile(t, n, 10*time.Second, "live over WebRTC with decoded frames", func(v tileView) bool {
			return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
		})
		if v.VideoWidth != testcamera.Width || v.VideoHeight != testcamera.Height {
			t.Errorf("camera %s: video is %dx%d, want %dx%d", n, v.VideoWidth, v.VideoHeight, testcamera.Width, testcamera.Height)
		}
	}

	// The picture in each tile is the camera's, not a blank or one-colour box.
	for _, n := range names {
		shot := b.screenshot(t, `[data-camera="`+n+`"] video.cam-video`)
		colours, r := distinctColours(t, shot)
		t.Logf("camera %s: screenshot %dx%d with %d colours", n, r.Dx(), r.Dy(), colours)
		if colours < 200 {
			t.Errorf("camera %s: screenshot of the video has only %d colours; blank?", n, colours)
		}
	}

	b.noConsoleProblems(t)
}

func TestBrowserTileShowsOfflineCameraAndRecoversByItself(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	c := daemontest.StartCamera(t, testcamera.Options{})
	addr := c.Addr()
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL())) // read_timeout 2s
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	b.waitTile(t, "press-1", 10*time.Second, "live over WebRTC", func(v tileView) bool {
		return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
	})

	// The API says retrying within about 2-3 s of the camera going away and
	// the page polls it every 2 s; 10 s is what we promise.
	c.Close()
	stopped := time.Now()
	b.waitTile(t, "press-1", 10*time.Second, "offline", func(v tileView) bool { return v.State == "offline" })
	t.Logf("tile offline %s after the camera stopped", time.Since(stopped).Round(time.Millisecond))

	// The same camera comes back: within 20 s the tile is live again without
	// a reload, and its video plays new frames.
	daemontest.StartCamera(t, testcamera.Options{Addr: addr})
	restarted := time.Now()
	v := b.waitTile(t, "press-1", 20*time.Second, "live again", func(v tileView) bool { return v.State == "live" })
	t.Logf("tile live %s after the camera returned", time.Since(restarted).Round(time.Millisecond))
	frames := v.VideoFrames
	v = b.waitTile(t, "press-1", 20*time.Second-time.Since(restarted), "showing new frames", func(v tileView) bool {
		return v.VideoFrames > frames
	})
	t.Logf("tile showing new frames %s after the camera returned", time.Since(restarted).Round(time.Millisecond))
	b.noConsoleProblems(t)
}

func TestBrowserFallsBackToJPEGWhenWebRTCFails(t *testing.T) {
	if !inTestNetns(t, "ffmpeg") {
		return
	}
	c := daemontest.StartCamera(t, testcamera.Options{})
	one := daemontest.Camera("press-1", c.URL())
	one.MaxViewers = 1
	d := daemontest.Start(t, nil, one)
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	// This viewer takes the camera's only WebRTC place, so the page's WHEP
	// POST gets 503.
	v := d.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 10*time.Second)
	b := startBrowser(t)

	t.Run("auto falls back to JPEG over the WebSocket", func(t *testing.T) {
		loaded := time.Now()
		b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
		tv := b.waitTile(t, "press-1", 15*time.Second, "live over JPEG with a picture", func(v tileView) bool {
			return v.State == "live" && (v.Transport == "ws" || v.Transport == "mjpeg") && v.JPEGWidth > 0
		})
		t.Logf("live over %s (%dx%d JPEG) %s after navigation", tv.Transport, tv.JPEGWidth, tv.JPEGHeight, time.Since(loaded).Round(time.Millisecond))
		t.Logf("the page logged (the 503 is expected): %q", b.consoleProblems())
	})
	t.Run("?transport=mjpeg plays MJPEG", func(t *testing.T) {
		loaded := time.Now()
		b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/?transport=mjpeg"))
		tv := b.waitTile(t, "press-1", 15*time.Second, "live over MJPEG with a picture", func(v tileView) bool {
			return v.State == "live" && v.Transport == "mjpeg" && v.JPEGWidth > 0
		})
		t.Logf("live over MJPEG (%dx%d) %s after navigation", tv.JPEGWidth, tv.JPEGHeight, time.Since(loaded).Round(time.Millisecond))
	})
}

func TestBrowserMarksFrozenPictureStale(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	v := b.waitTile(t, "press-1", 10*time.Second, "live over WebRTC", func(v tileView) bool {
		return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
	})
	if v.Stale != "" {
		t.Fatalf("a playing tile has data-stale=%q", v.Stale)
	}

	// A hung camera: its RTSP session stays open but no frames come. The
	// page marks the picture stale 5 s after the last frame it showed and
	// checks every 1 s; 8 s leaves room for a busy machine.
	c.Pause()
	paused := time.Now()
	b.waitTile(t, "press-1", 8*time.Second, `marked data-stale="true"`, func(v tileView) bool { return v.Stale == "true" })
	t.Logf("tile stale %s after the camera stopped sending", time.Since(paused).Round(time.Millisecond))

	c.Resume()
	resumed := time.Now()
	b.waitTile(t, "press-1", 20*time.Second, "live and no longer stale", func(v tileView) bool {
		return v.State == "live" && v.Stale == ""
	})
	t.Logf("tile fresh again %s after the camera resumed", time.Since(resumed).Round(time.Millisecond))
}

func TestBrowserSnapshotGridShowsSnapshotsAndLiveFullSize(t *testing.T) {
	if !inTestNetns(t, "ffmpeg") {
		return
	}
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	b := startBrowser(t)

	loaded := time.Now()
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/?grid=snapshots"))
	v := b.waitTile(t, "press-1", 15*time.Second, "live with snapshots", func(v tileView) bool {
		return v.State == "live" && v.Transport == "snapshot" && v.JPEGWidth > 0
	})
	t.Logf("snapshot tile live (%dx%d) %s after navigation", v.JPEGWidth, v.JPEGHeight, time.Since(loaded).Round(time.Millisecond))
	if got := d.Camera(t, "press-1").Viewers; got != 0 {
		t.Errorf("a snapshot grid holds %d viewers, want 0", got)
	}

	// Full size, the same camera plays live over WebRTC.
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/?grid=snapshots#/camera/press-1"))
	b.waitTile(t, "press-1", 10*time.Second, "live over WebRTC full size", func(v tileView) bool {
		return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
	})
	b.noConsoleProblems(t)
}

// After the daemon restarts, the page plays again by itself, and it does
// not try to end sessions that went with the previous run: each such DELETE
// was answered 404, an error in the console for every tile.
func TestBrowserResumesAfterADaemonRestartQuietly(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	names := []string{"press-1", "press-2"}
	c1 := daemontest.StartCamera(t, testcamera.Options{})
	c2 := daemontest.StartCamera(t, testcamera.Options{})
	cams := []config.Camera{daemontest.Camera(names[0], c1.URL()), daemontest.Camera(names[1], c2.URL())}
	d := daemontest.Start(t, nil, cams...)
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	for _, n := range names {
		b.waitTile(t, n, 15*time.Second, "live over WebRTC", func(v tileView) bool {
			return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
		})
	}

	addr := strings.TrimPrefix(d.URL, "http://")
	d.Stop()
	restarted := time.Now()
	d2 := daemontest.Start(t, func(cfg *config.Config) { cfg.HTTP.Listen = addr }, cams...)
	for _, n := range names {
		daemontest.WaitFor(t, 30*time.Second, n+" watched over WebRTC again", func() bool {
			return d2.Camera(t, n).ViewersByTransport.WebRTC > 0
		})
		frames := b.waitTile(t, n, 5*time.Second, "a tile", func(tileView) bool { return true }).VideoFrames
		b.waitTile(t, n, 15*time.Second, "live again with new frames", func(v tileView) bool {
			return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > frames
		})
	}
	t.Logf("every tile live again %s after the restart", time.Since(restarted).Round(time.Millisecond))
	// While the daemon was down the browser could not reach it, which it
	// logs; what must not be there is a request for a session it no
	// longer has.
	for _, p := range b.consoleProblems() {
		if strings.Contains(p, "404") {
			t.Errorf("the page asked the restarted daemon for a session of the previous run: %s", p)
		}
	}
}
