//go:build browser

package browser

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// switchProbeJS starts watching camera name's <video> for the first frame
// of width px from a source other than the one it shows now, then sets the
// page's hash (the grid or the camera full size, as a click would), so the
// switch is timed from the moment it is asked for. The result is read with
// switchResultJS.
const switchProbeJS = `((name, width, hash) => {
  const el = [...document.querySelectorAll('[data-camera]')].find((e) => e.dataset.camera === name);
  const v = el.querySelector('video.cam-video');
  const old = v.srcObject;
  const s = { start: performance.now(), ms: 0 };
  window.__edgecamSwitch = s;
  const watch = () => v.requestVideoFrameCallback((now, meta) => {
    if (window.__edgecamSwitch !== s || s.ms > 0) return;
    if (v.srcObject !== old && meta.width === width) s.ms = now - s.start;
    else watch();
  });
  watch();
  v.addEventListener('loadstart', watch, { once: true });
  location.hash = hash;
  return true;
})(%s, %d, %s)`

const switchResultJS = `window.__edgecamSwitch ? window.__edgecamSwitch.ms : 0`

// timeSwitch switches camera name's tile to hash and returns the time until
// the tile showed the first frame of the other stream, width px wide.
func (b *browser) timeSwitch(t *testing.T, name string, width int, hash string) float64 {
	t.Helper()
	n, _ := json.Marshal(name)
	h, _ := json.Marshal(hash)
	evalIn[bool](t, b, fmt.Sprintf(switchProbeJS, n, width, h))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if ms := evalIn[float64](t, b, switchResultJS); ms > 0 {
			return ms
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("camera %s: no %d px frame within 5 s of switching to %s: %s", name, width, hash, b.tile(t, name))
	return 0
}

// subStreamGrid runs a daemon with cams, the first of them "press-1" with
// a sub-stream, and a browser on its grid, where press-1's tile plays the
// sub-stream.
func subStreamGrid(t *testing.T, cams ...config.Camera) *browser {
	t.Helper()
	d := daemontest.Start(t, nil, cams...)
	daemontest.WaitFor(t, 10*time.Second, "both streams of press-1 streaming", func() bool {
		c := d.Camera(t, "press-1")
		return c.State == "streaming" && c.Sub.State == "streaming"
	})
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	b.waitTile(t, "press-1", 10*time.Second, "playing the sub-stream in the grid", func(v tileView) bool {
		return v.State == "live" && v.Stream == "sub" && v.VideoWidth == lowres.Width
	})
	return b
}

func TestBrowserGridPlaysSubStreamsAndSwitchesFast(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	cam := daemontest.SubCamera(t, "press-1")
	b := subStreamGrid(t, cam, daemontest.Camera("press-2", cam.URL))
	b.waitTile(t, "press-2", 10*time.Second, "playing its only stream", func(v tileView) bool {
		return v.State == "live" && v.Stream == "main" && v.VideoWidth == testcamera.Width
	})

	// The figure is measured and logged; only a switch far beyond the
	// 300 ms aim fails the test, a loaded machine being no bug.
	const rounds = 5
	var toFull, toGrid []float64
	for i := 0; i < rounds; i++ {
		toFull = append(toFull, b.timeSwitch(t, "press-1", testcamera.Width, "#/camera/press-1"))
		b.waitTile(t, "press-1", 5*time.Second, "live on the main stream", func(v tileView) bool {
			return v.State == "live" && v.Stream == "main"
		})
		toGrid = append(toGrid, b.timeSwitch(t, "press-1", lowres.Width, "#/"))
		b.waitTile(t, "press-1", 5*time.Second, "live on the sub-stream", func(v tileView) bool {
			return v.State == "live" && v.Stream == "sub"
		})
	}
	for _, m := range []struct {
		what string
		ms   []float64
	}{{"grid → full size (sub → main)", toFull}, {"full size → grid (main → sub)", toGrid}} {
		t.Logf("switch %s: first picture of the other stream after %.0f ms (%v)", m.what, median(m.ms), rounded(m.ms))
		if worst := slices.Max(m.ms); worst > 2000 {
			t.Errorf("switch %s took %.0f ms at worst; the aim is 300 ms", m.what, worst)
		}
	}
	b.noConsoleProblems(t)
}

func TestBrowserTileFallsBackToMainWhileSubStreamIsOffline(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	cam := daemontest.SubCamera(t, "press-1")
	sub := daemontest.StartCamera(t, testcamera.Options{Clip: lowres.Clip(), FPS: lowres.FPS})
	cam.SubURL = sub.URL()
	b := subStreamGrid(t, cam) // read_timeout 2s

	addr := sub.Addr()
	sub.Close()
	stopped := time.Now()
	b.waitTile(t, "press-1", 15*time.Second, "live on the main stream", func(v tileView) bool {
		return v.State == "live" && v.Stream == "main" && v.VideoWidth == testcamera.Width
	})
	t.Logf("tile on the main stream %s after the sub-stream stopped", time.Since(stopped).Round(time.Millisecond))

	daemontest.StartCamera(t, testcamera.Options{Addr: addr, Clip: lowres.Clip(), FPS: lowres.FPS})
	back := time.Now()
	b.waitTile(t, "press-1", 30*time.Second, "back on the sub-stream", func(v tileView) bool {
		return v.State == "live" && v.Stream == "sub" && v.VideoWidth == lowres.Width
	})
	t.Logf("tile back on the sub-stream %s after it returned", time.Since(back).Round(time.Millisecond))
	b.noConsoleProblems(t)
}

func TestBrowserStreamChoiceFallsBackWithoutFlapping(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	d := daemontest.Start(t, nil)
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	// Cases for streams.js's chooseStream, run in the page: the camera's
	// main and sub states ("" for no sub-stream), full size or not, and
	// the stream the tile plays now.
	cases := []struct {
		Main, Sub string
		Single    bool
		Current   string
		Want      string
	}{
		{"streaming", "", false, "", "main"},
		{"streaming", "streaming", false, "", "sub"},
		{"streaming", "connecting", false, "", "main"}, // the sub-stream not up yet
		{"streaming", "streaming", true, "sub", "main"},
		{"streaming", "retrying", false, "sub", "main"},
		{"streaming", "stale", false, "sub", "main"},
		{"streaming", "connecting", false, "main", "main"}, // a retry of a failing sub-stream
		{"streaming", "streaming", false, "main", "sub"},
		{"idle", "idle", false, "", "sub"},          // on demand: pulled when played
		{"idle", "connecting", false, "sub", "sub"}, // on demand, being pulled
		{"retrying", "streaming", true, "main", "sub"},
		{"retrying", "retrying", false, "sub", "sub"},
	}
	js, _ := json.Marshal(cases)
	got := evalIn[[]string](t, b, fmt.Sprintf(`import('/streams.js').then((m) => %s.map((c) =>
		m.chooseStream({ state: c.Main, sub: c.Sub ? { state: c.Sub } : undefined }, c.Single, c.Current || undefined)))`, js),
		chromedp.EvalAwaitPromise)
	for i, c := range cases {
		if i >= len(got) || got[i] != c.Want {
			t.Errorf("main %s, sub %q, single %v, playing %q: chose %v, want %s", c.Main, c.Sub, c.Single, c.Current, got, c.Want)
		}
	}
}

func median(ms []float64) float64 {
	s := slices.Sorted(slices.Values(ms))
	return s[len(s)/2]
}

func rounded(ms []float64) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = int(m + 0.5)
	}
	return out
}
