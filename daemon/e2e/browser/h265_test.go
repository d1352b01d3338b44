//go:build browser

package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/hevc"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// An H.265 camera beside an H.264 one: a browser that cannot decode H.265
// over WebRTC (Debian's Chromium) plays its tile over JPEG by itself and
// says why on the tile, while the H.264 tile plays WebRTC; one that can
// plays both over WebRTC.
func TestBrowserPlaysH265CameraOverJPEGAndSaysWhy(t *testing.T) {
	if !inTestNetns(t, "ffmpeg") {
		return
	}
	c264 := daemontest.StartCamera(t, testcamera.Options{})
	c265 := daemontest.StartCamera(t, testcamera.Options{Codec: "h265", Clip: hevc.Clip()})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c264.URL()), daemontest.Camera("gate", c265.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	d.WaitState(t, "gate", "streaming", 10*time.Second)
	b := startBrowser(t)
	loaded := time.Now()
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	decodes := decodesH265(t, b)
	t.Logf("this Chromium decodes H.265 over WebRTC: %v", decodes)

	b.waitTile(t, "press-1", 15*time.Second, "live over WebRTC", func(v tileView) bool {
		return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
	})
	if decodes {
		b.waitTile(t, "gate", 15*time.Second, "live over WebRTC", func(v tileView) bool {
			return v.State == "live" && v.Transport == "webrtc" && v.VideoWidth == hevc.Width
		})
		return
	}
	tv := b.waitTile(t, "gate", 15*time.Second, "live over JPEG, saying why", func(v tileView) bool {
		return v.State == "live" && v.Transport == "ws" && v.JPEGWidth > 0 &&
			strings.Contains(v.Reason, "H.265: this browser cannot play it over WebRTC")
	})
	t.Logf("H.265 tile live over JPEG (%dx%d) %s after navigation; it says %q",
		tv.JPEGWidth, tv.JPEGHeight, time.Since(loaded).Round(time.Millisecond), tv.Reason)
	b.noConsoleProblems(t)
	if n := d.WebRTCSessions(); n != 1 {
		t.Errorf("%d WebRTC sessions, want the H.264 tile's one", n)
	}
}

// A camera whose main stream is H.265 and whose sub-stream is H.264, as
// many are set up: the grid plays the sub-stream over WebRTC; full size,
// a browser without H.265 over WebRTC plays the main stream over JPEG and
// says why; back in the grid, WebRTC again.
func TestBrowserPlaysH264SubStreamOverWebRTCBesideH265Main(t *testing.T) {
	if !inTestNetns(t, "ffmpeg") {
		return
	}
	main := daemontest.StartCamera(t, testcamera.Options{Codec: "h265", Clip: hevc.Clip()})
	sub := daemontest.StartCamera(t, testcamera.Options{Clip: lowres.Clip()})
	cam := daemontest.Camera("gate", main.URL())
	cam.SubURL = sub.URL()
	d := daemontest.Start(t, nil, cam)
	daemontest.WaitFor(t, 10*time.Second, "both streams of gate streaming", func() bool {
		c := d.Camera(t, "gate")
		return c.State == "streaming" && c.Sub.State == "streaming"
	})
	b := startBrowser(t)
	if decodesH265(t, b) {
		t.Skip("this Chromium decodes H.265 over WebRTC; the fallback cannot be seen")
	}
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	grid := func(what string) {
		b.waitTile(t, "gate", 15*time.Second, what, func(v tileView) bool {
			return v.State == "live" && v.Stream == "sub" && v.Transport == "webrtc" && v.VideoWidth == lowres.Width && v.Reason == ""
		})
	}
	grid("the H.264 sub-stream over WebRTC in the grid")
	evalIn[string](t, b, `location.hash = '#/camera/gate'`)
	tv := b.waitTile(t, "gate", 15*time.Second, "the H.265 main stream over JPEG full size, saying why", func(v tileView) bool {
		return v.State == "live" && v.Stream == "main" && v.Transport == "ws" && v.JPEGWidth > 0 &&
			strings.Contains(v.Reason, "H.265: this browser cannot play it over WebRTC")
	})
	t.Logf("full size: %dx%d over JPEG, saying %q", tv.JPEGWidth, tv.JPEGHeight, tv.Reason)
	evalIn[string](t, b, `location.hash = '#/'`)
	grid("back to the sub-stream over WebRTC in the grid")
}

// decodesH265 reports whether this Chromium can receive H.265 over WebRTC.
func decodesH265(t *testing.T, b *browser) bool {
	t.Helper()
	return evalIn[bool](t, b, `(RTCRtpReceiver.getCapabilities('video')?.codecs || []).some((c) => c.mimeType.toLowerCase() === 'video/h265')`)
}
