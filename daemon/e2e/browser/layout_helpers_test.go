//go:build browser

package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// screen is a viewport the wall is checked at.
type screen struct {
	name          string
	width, height int64
}

// The screens of a control room: a wall, a laptop, a tablet, a phone.
var screens = []screen{{"wall", 1920, 1080}, {"laptop", 1366, 768}, {"tablet", 820, 1180}, {"phone", 390, 844}}

// wallCameras are six cameras as a plant names them, one titled, two with
// long hyphenated names, the last one offline; and two groups.
var wallCameras = []string{"press-1", "press-2", "warehouse-dock-north-gate", "line-1-packing-station-east", "yard-gate", "lobby"}

const offlineCamera = "lobby"

// startWall runs a daemon with wallCameras. With live, the first five play
// one test camera; without, all are offline (no video to decode).
func startWall(t *testing.T, live bool) *daemontest.Daemon {
	t.Helper()
	var url string
	if live {
		url = daemontest.StartCamera(t, testcamera.Options{}).URL()
	}
	// Started after the live camera, so that nothing takes its port again.
	gone := daemontest.StartCamera(t, testcamera.Options{})
	deadURL := gone.URL()
	gone.Close() // nothing answers at its address any more
	if !live {
		url = deadURL
	}
	var cams []config.Camera
	for _, n := range wallCameras {
		u := url
		if n == offlineCamera {
			u = deadURL
		}
		cams = append(cams, daemontest.Camera(n, u))
	}
	cams[0].Title = "Press 1 (north)"
	return daemontest.Start(t, func(c *config.Config) {
		c.Groups = []config.Group{
			{Name: "line-1", Title: "Line 1", Cameras: []string{"press-2", "press-1"}},
			{Name: "warehouse", Title: "Warehouse", Cameras: []string{"warehouse-dock-north-gate", "yard-gate"}},
		}
	}, cams...)
}

// wallView is what the page shows, measured in the browser.
type wallView struct {
	InnerWidth  float64    `json:"innerWidth"`
	InnerHeight float64    `json:"innerHeight"`
	ScrollWidth float64    `json:"scrollWidth"` // of the document: wider than innerWidth scrolls sideways
	Columns     int        `json:"columns"`     // distinct left edges of the tiles shown
	Tiles       []tileRect `json:"tiles"`       // the tiles shown, in page order
	Route       string     `json:"route"`
	Fullscreen  string     `json:"fullscreen"` // data-camera of the fullscreen element
	SingleName  nameRect   `json:"singleName"`
}

type tileRect struct {
	Camera string   `json:"camera"`
	Left   float64  `json:"left"`
	Top    float64  `json:"top"`
	Right  float64  `json:"right"`
	Bottom float64  `json:"bottom"`
	Name   nameRect `json:"name"`
}

// nameRect is a text's box: how many lines it takes and how much of it shows.
type nameRect struct {
	Text   string  `json:"text"`
	Lines  float64 `json:"lines"` // height / line height
	Shown  float64 `json:"shown"` // visible width
	Full   float64 `json:"full"`  // width the whole text needs
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
}

const wallViewJS = `(() => {
  const text = (el) => {
    if (!el) return {};
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    const lh = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.35;
    return { text: el.textContent, lines: r.height / lh, shown: el.clientWidth, full: el.scrollWidth, top: r.top, bottom: r.bottom };
  };
  const tiles = [...document.querySelectorAll('[data-camera]')].filter((el) => el.getClientRects().length > 0).map((el) => {
    const r = el.getBoundingClientRect();
    return { camera: el.dataset.camera, left: r.left, top: r.top, right: r.right, bottom: r.bottom, name: text(el.querySelector('.name')) };
  });
  return {
    innerWidth, innerHeight, scrollWidth: document.documentElement.scrollWidth,
    columns: new Set(tiles.map((t) => Math.round(t.left))).size, tiles,
    route: location.hash, fullscreen: document.fullscreenElement?.dataset.camera || '',
    singleName: text(document.getElementById('single-name')),
  };
})()`

func (b *browser) wall(t *testing.T) wallView {
	t.Helper()
	return evalIn[wallView](t, b, wallViewJS)
}

// waitWall polls the page until cond holds, failing after 10 s.
func (b *browser) waitWall(t *testing.T, what string, cond func(wallView) bool) wallView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := b.wall(t)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not show %s within 10s: %+v", what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// open shows url at screen s.
func (b *browser) open(t *testing.T, s screen, url string) {
	t.Helper()
	b.do(t, 10*time.Second, chromedp.EmulateViewport(s.width, s.height), chromedp.Navigate(url))
}

// fullyVisible reports whether the tile lies inside the window.
func (v wallView) fullyVisible(r tileRect) bool {
	return r.Left >= 0 && r.Top >= 0 && r.Right <= v.InnerWidth+0.5 && r.Bottom <= v.InnerHeight+0.5
}

func (v wallView) names() []string {
	var out []string
	for _, r := range v.Tiles {
		out = append(out, r.Camera)
	}
	return out
}

// checkName fails when a name is broken over lines or cut to almost nothing.
func checkName(t *testing.T, where string, n nameRect) {
	t.Helper()
	if n.Lines > 1.5 {
		t.Errorf("%s: the name %q takes %.1f lines", where, n.Text, n.Lines)
	}
	if n.Shown < min(n.Full, 150) {
		t.Errorf("%s: the name %q shows %.0f of its %.0f px", where, n.Text, n.Shown, n.Full)
	}
}

// saveScreenshot writes the window as $EDGECAM_SCREENSHOTS/name, for the
// README; without the variable it does nothing.
func (b *browser) saveScreenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("EDGECAM_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot of the window: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func describe(v wallView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%vx%v, page %v wide, %d columns:", v.InnerWidth, v.InnerHeight, v.ScrollWidth, v.Columns)
	for _, r := range v.Tiles {
		fmt.Fprintf(&b, " %s@(%.0f,%.0f)-(%.0f,%.0f)", r.Camera, r.Left, r.Top, r.Right, r.Bottom)
	}
	return b.String()
}
