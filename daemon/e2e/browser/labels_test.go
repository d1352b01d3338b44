//go:build browser

package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// contrastJS computes WCAG contrast ratios from the page's computed styles:
// each badge's text on its background, for every state a tile can be in
// (a clone of a real tile with that state's attributes), and the borders
// of tiles and buttons on the page's background.
const contrastJS = `(() => {
  const rgb = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const page = getComputedStyle(document.body).backgroundColor;
  const real = document.querySelector('[data-camera]');
  const out = {};
  for (const [name, attrs] of [['connecting', {state: 'connecting'}], ['live', {state: 'live'}],
      ['reconnecting', {state: 'reconnecting'}], ['offline', {state: 'offline'}],
      ['frozen', {state: 'live', stale: 'true'}], ['still', {state: 'live', still: 'true'}]]) {
    const el = real.cloneNode(true);
    el.removeAttribute('data-camera');
    for (const k of ['stale', 'still']) delete el.dataset[k];
    Object.assign(el.dataset, attrs);
    real.parentNode.append(el);
    const badge = getComputedStyle(el.querySelector('.badge'));
    out['badge ' + name] = ratio(badge.color, badge.backgroundColor);
    out['tile border ' + name] = ratio(getComputedStyle(el).borderTopColor, page);
    el.remove();
  }
  out['button border'] = ratio(getComputedStyle(document.getElementById('transport')).borderTopColor, page);
  return out;
})()`

// Badges and borders are readable (WCAG: 4.5:1 for text, 3:1 for borders),
// the badge leaves the top of the picture (where cameras print their clock)
// free, and labels name what the operator gets, also in the snapshot grid.
func TestBrowserBadgesAreReadableAndLabelsSayWhatTheOperatorGets(t *testing.T) {
	if !inTestNetns(t, "ffmpeg") {
		return
	}
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	b.waitTile(t, "press-1", 10*time.Second, "live", func(v tileView) bool { return v.State == "live" && v.VideoFrames > 0 })

	for what, r := range evalIn[map[string]float64](t, b, contrastJS) {
		want := 4.5
		if strings.Contains(what, "border") {
			want = 3
		}
		if r < want {
			t.Errorf("%s: contrast %.2f:1, want at least %.1f:1", what, r, want)
		}
	}

	// The badge sits outside the top fifth of the picture.
	top := evalIn[float64](t, b, `(() => {
	  const f = document.querySelector('[data-camera="press-1"] .frame').getBoundingClientRect();
	  const b = document.querySelector('[data-camera="press-1"] .badge').getBoundingClientRect();
	  return (b.top - f.top) / f.height;
	})()`)
	if top < 0.2 {
		t.Errorf("the badge starts %.0f%% down the picture, over the camera's own clock; want below the top 20%%", top*100)
	}

	type labels struct {
		Transport string   `json:"transport"`
		Options   []string `json:"options"`
		Help      string   `json:"help"`
		Badge     string   `json:"badge"`
		Info      string   `json:"info"`
	}
	// On a window narrower than a wall's, the header's choices and their
	// help fold into the Menu: open it, as a user would.
	const labelsJS = `(() => {
	  const menu = document.getElementById('menu');
	  if (menu && menu.offsetParent && menu.getAttribute('aria-expanded') !== 'true') menu.click();
	  const t = document.querySelector('[data-camera="press-1"]');
	  return {
	    transport: t.querySelector('.transport').textContent,
	    options: [...document.querySelectorAll('#transport option, #grid-mode option')].map((o) => o.textContent),
	    help: document.getElementById('pick-help').offsetParent ? document.getElementById('pick-help').textContent : '',
	    badge: t.querySelector('.badge').textContent,
	    info: t.querySelector('.info').textContent,
	  };
	})()`
	l := evalIn[labels](t, b, labelsJS)
	if l.Transport != "Smooth" || l.Help == "" {
		t.Errorf("a WebRTC tile is labelled %q with help %q; want Smooth, and help shown", l.Transport, l.Help)
	}
	for _, o := range l.Options {
		if strings.Contains(o, "WebRTC") || strings.Contains(o, "JPEG") || strings.Contains(o, "Snapshot") {
			t.Errorf("choice %q names a protocol, not what the operator gets", o)
		}
	}

	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/?grid=snapshots"))
	b.waitTile(t, "press-1", 15*time.Second, "showing still pictures", func(v tileView) bool {
		return v.State == "live" && v.Transport == "snapshot" && v.JPEGWidth > 0
	})
	l = evalIn[labels](t, b, labelsJS)
	if l.Badge != "still picture" || strings.Contains(l.Info, "25 fps") || !strings.Contains(l.Info, "every 2 s") {
		t.Errorf("a snapshot tile shows badge %q and info %q; want \"still picture\" and a picture every 2 s, no camera fps",
			l.Badge, l.Info)
	}
}
