//go:build browser

package browser

import (
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserWallFitsEveryScreen opens the wall of six cameras (one
// offline) at a wall screen, a laptop, a tablet and a phone. With
// EDGECAM_SCREENSHOTS=dir it writes the laptop's and the phone's window
// as dir/wall-laptop.png and dir/wall-phone.png (the README's).
func TestBrowserWallFitsEveryScreen(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	d := startWall(t, true)
	b := startBrowser(t)
	for _, s := range screens {
		b.open(t, s, d.URL+"/")
		for _, n := range wallCameras {
			want := "live"
			if n == offlineCamera {
				want = "offline"
			}
			b.waitTile(t, n, 20*time.Second, want, func(v tileView) bool {
				return v.State == want && (want != "live" || v.VideoFrames > 0)
			})
		}
		v := b.waitWall(t, "all six tiles", func(v wallView) bool { return len(v.Tiles) == len(wallCameras) })
		t.Logf("%s: %s", s.name, describe(v))
		if v.ScrollWidth > v.InnerWidth {
			t.Errorf("%s: the page is %v px wide in a %v px window: it scrolls sideways", s.name, v.ScrollWidth, v.InnerWidth)
		}
		if s.width >= 820 {
			for _, r := range v.Tiles {
				if !v.fullyVisible(r) {
					t.Errorf("%s: tile %s is not fully in the window: %s", s.name, r.Camera, describe(v))
				}
			}
		}
		if s.name == "tablet" && v.Columns < 2 {
			t.Errorf("tablet: %d column(s), want at least 2", v.Columns)
		}
		for _, r := range v.Tiles {
			checkName(t, s.name+" tile "+r.Camera, r.Name)
		}
		if got := v.Tiles[0].Name.Text; got != "Press 1 (north)" {
			t.Errorf("%s: press-1's tile is titled %q, want its configured title", s.name, got)
		}
		switch s.name {
		case "laptop":
			b.saveScreenshot(t, "wall-laptop.png")
		case "phone":
			b.saveScreenshot(t, "wall-phone.png")
			checkPhoneMenuAndFullSize(t, b)
		}
	}
	b.noConsoleProblems(t)
}

// checkPhoneMenuAndFullSize: on a phone the controls fold into a menu that
// opens without widening the page, and the full-size view keeps the
// camera's name readable.
func checkPhoneMenuAndFullSize(t *testing.T, b *browser) {
	t.Helper()
	shown := `document.getElementById('transport').getClientRects().length > 0`
	if evalIn[bool](t, b, shown) {
		t.Error("phone: the Transport menu shows before the Menu button is pressed")
	}
	b.do(t, 5*time.Second, chromedp.Click("#menu"))
	b.waitWall(t, "the controls after pressing Menu", func(wallView) bool { return evalIn[bool](t, b, shown) })
	if v := b.wall(t); v.ScrollWidth > v.InnerWidth {
		t.Errorf("phone: with the menu open the page is %v px wide in a %v px window", v.ScrollWidth, v.InnerWidth)
	}
	b.do(t, 5*time.Second, chromedp.Click("#menu"))

	b.do(t, 5*time.Second, chromedp.Navigate(b.wallURL(t)+"#/camera/warehouse-dock-north-gate"))
	v := b.waitWall(t, "the full-size view", func(v wallView) bool { return v.SingleName.Text == "warehouse-dock-north-gate" })
	checkName(t, "phone full size", v.SingleName)
	if v.ScrollWidth > v.InnerWidth {
		t.Errorf("phone full size: the page is %v px wide in a %v px window", v.ScrollWidth, v.InnerWidth)
	}
}

// wallURL is the page's address without query or fragment.
func (b *browser) wallURL(t *testing.T) string {
	t.Helper()
	return evalIn[string](t, b, `location.origin + '/'`)
}

// TestBrowserLayoutGroupsAndCameraKeys checks the layout choice (in the
// address and remembered), the group picker, next and previous camera keys
// in the full-size view, and the name in fullscreen, at a laptop's size.
func TestBrowserLayoutGroupsAndCameraKeys(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	d := startWall(t, false)
	b := startBrowser(t)
	laptop := screens[1]
	six := func(v wallView) bool { return len(v.Tiles) == len(wallCameras) }

	b.open(t, laptop, d.URL+"/?layout=2x2")
	v := b.waitWall(t, "six tiles", six)
	if v.Columns != 2 || !v.fullyVisible(v.Tiles[3]) || v.fullyVisible(v.Tiles[4]) {
		t.Errorf("?layout=2x2: want 2 columns with 4 tiles in the window; %s", describe(v))
	}
	evalIn[bool](t, b, `(() => { const s = document.getElementById('layout'); s.value = '3x3'; s.dispatchEvent(new Event('change')); return true; })()`)
	b.open(t, laptop, d.URL+"/")
	v = b.waitWall(t, "six tiles in 3 columns, the layout remembered", func(v wallView) bool { return six(v) && v.Columns == 3 })
	if !v.fullyVisible(v.Tiles[5]) {
		t.Errorf("3x3: six tiles do not fit; %s", describe(v))
	}

	b.open(t, laptop, d.URL+"/?group=line-1")
	v = b.waitWall(t, "the group's two tiles", func(v wallView) bool { return len(v.Tiles) == 2 })
	if got := v.names(); !slices.Equal(got, []string{"press-2", "press-1"}) {
		t.Errorf("?group=line-1 shows %v, want press-2, press-1 (the group's order)", got)
	}
	options := evalIn[[]string](t, b, `[...document.getElementById('group').options].map((o) => o.textContent)`)
	if !slices.Equal(options, []string{"All cameras", "Line 1", "Warehouse"}) {
		t.Errorf("the group picker offers %q", options)
	}

	// Next and previous stay within the group and wrap around.
	b.do(t, 5*time.Second, chromedp.Navigate(d.URL+"/?group=line-1#/camera/press-2"))
	b.waitWall(t, "press-2 full size", func(v wallView) bool { return v.SingleName.Text == "press-2" })
	if k := evalIn[string](t, b, `document.getElementById('next-camera').getAttribute('aria-keyshortcuts')`); k != "ArrowRight PageDown" {
		t.Errorf("the next-camera button's aria-keyshortcuts = %q", k)
	}
	for _, step := range []struct{ key, want string }{
		{kb.ArrowRight, "#/camera/press-1"}, {kb.ArrowRight, "#/camera/press-2"}, {kb.PageUp, "#/camera/press-1"},
	} {
		b.do(t, 5*time.Second, chromedp.KeyEvent(step.key))
		b.waitWall(t, step.want, func(v wallView) bool { return v.Route == step.want })
	}
	if v := b.wall(t); v.SingleName.Text != "Press 1 (north)" {
		t.Errorf("full size shows %q, want press-1's title", v.SingleName.Text)
	}

	// Fullscreen shows the camera's name, and stays on as the keys step.
	b.do(t, 5*time.Second, chromedp.KeyEvent("f"))
	for _, want := range []string{"press-1", "press-2"} {
		v = b.waitWall(t, want+" fullscreen", func(v wallView) bool { return v.Fullscreen == want })
		name := evalIn[nameRect](t, b, `(() => { const el = document.fullscreenElement.querySelector('.name'); const r = el.getBoundingClientRect(); return { text: el.textContent, top: r.top, bottom: r.bottom, shown: el.clientWidth, full: el.scrollWidth, lines: 1 }; })()`)
		if name.Bottom <= name.Top || name.Bottom > v.InnerHeight || name.Shown == 0 {
			t.Errorf("fullscreen %s: its name %q is not on screen: %+v", want, name.Text, name)
		}
		b.do(t, 5*time.Second, chromedp.KeyEvent(kb.ArrowRight))
	}
	b.noConsoleProblems(t)
}
