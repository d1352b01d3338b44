//go:build browser

package browser

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// problemView is what a tile's problem box (over its picture) and its
// controls show.
type problemView struct {
	Shown     bool   `json:"shown"`
	Title     string `json:"title"`
	Hint      string `json:"hint"`
	When      string `json:"when"`
	Raw       string `json:"raw"`
	Retry     bool   `json:"retry"` // Retry now is visible and enabled
	SnapOff   bool   `json:"snapOff"`
	Transport bool   `json:"transport"` // the transport label is visible
	Badge     string `json:"badge"`
	Health    string `json:"health"`
	Text      string `json:"text"` // everything the tile says
}

const problemViewJS = `((name) => {
  const el = [...document.querySelectorAll('[data-camera]')].find((e) => e.dataset.camera === name);
  const q = (s) => el.querySelector(s);
  const shown = (e) => Boolean(e && e.offsetParent !== null && getComputedStyle(e).display !== 'none');
  return {
    shown: shown(q('.problem')),
    title: q('.problem-title').textContent, hint: q('.problem-hint').textContent,
    when: q('.problem-when').textContent, raw: q('.problem-raw').textContent,
    retry: shown(q('button.retry')) && !q('button.retry').disabled,
    snapOff: q('button.snap').disabled,
    transport: shown(q('.transport')),
    badge: q('.badge').textContent,
    health: el.dataset.health || '',
    text: el.innerText,
  };
})`

func (b *browser) problem(t *testing.T, name string) problemView {
	t.Helper()
	return evalIn[problemView](t, b, problemViewJS+`("`+name+`")`)
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// An offline tile says in plain words what is wrong and what to check,
// since when and when the next try is, keeps the raw error in a details
// line, disables what cannot work, and its Retry now makes the server try
// at once. The header counts from the server's state and filters by it.
func TestBrowserOfflineTileSaysWhyAndRetriesNow(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	c1 := daemontest.StartCamera(t, testcamera.Options{})
	addr := closedAddr(t)
	const secret = "Xy7-secret"
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c1.URL()),
		daemontest.Camera("press-2", "rtsp://admin:"+secret+"@"+addr+"/stream"))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	b.waitTile(t, "press-1", 10*time.Second, "live", func(v tileView) bool { return v.State == "live" })
	b.waitTile(t, "press-2", 10*time.Second, "offline", func(v tileView) bool { return v.State == "offline" })

	var p problemView
	daemontest.WaitFor(t, 5*time.Second, "the offline tile's words", func() bool {
		p = b.problem(t, "press-2")
		return p.Shown && strings.Contains(p.When, "next try in")
	})
	t.Logf("offline tile: %q / %q / %q / %q", p.Title, p.Hint, p.When, p.Raw)
	for _, c := range []struct{ what, got, want string }{
		{"title", p.Title, "Camera unreachable"},
		{"hint", p.Hint, "nothing answers at " + addr + " — camera off, cable, or wrong port"},
		{"when", p.When, "offline since "},
		{"details", p.Raw, "connection refused"},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%s %q, want it to say %q", c.what, c.got, c.want)
		}
	}
	if !p.Retry || !p.SnapOff || p.Transport || p.Health != "offline" {
		t.Errorf("offline tile: Retry now usable %v (want true), Save picture disabled %v (want true), "+
			"transport label shown %v (want false), data-health %q", p.Retry, p.SnapOff, p.Transport, p.Health)
	}
	if strings.Contains(p.Text, secret) || strings.Contains(p.Text, "admin") {
		t.Errorf("the tile shows the camera's credentials: %q", p.Text)
	}

	// The header counts what the server says, and each count filters.
	count := evalIn[string](t, b, `document.getElementById('count').innerText`)
	if count != "2 cameras · 1 streaming · 1 offline" {
		t.Errorf("header says %q, want %q", count, "2 cameras · 1 streaming · 1 offline")
	}
	shown := evalIn[[]string](t, b, `(() => {
	  [...document.querySelectorAll('#count button')].find((b) => b.textContent === '1 offline').click();
	  return [...document.querySelectorAll('[data-camera]')].filter((e) => e.offsetParent !== null).map((e) => e.dataset.camera);
	})()`)
	if len(shown) != 1 || shown[0] != "press-2" {
		t.Errorf("after clicking \"1 offline\" the grid shows %q, want only press-2", shown)
	}

	// Retry now: with the next try far off, the camera is back at once.
	var next time.Time
	daemontest.WaitFor(t, 40*time.Second, "a backoff of 6 s or more", func() bool {
		c := d.Camera(t, "press-2")
		if c.NextRetry != nil {
			next = *c.NextRetry
		}
		return c.State == "retrying" && time.Until(next) > 6*time.Second
	})
	// EDGECAM_SCREENSHOTS=dir writes the README's picture of an offline tile.
	if dir := os.Getenv("EDGECAM_SCREENSHOTS"); dir != "" {
		shot := b.screenshot(t, `[data-camera="press-2"]`)
		if err := os.WriteFile(filepath.Join(dir, "offline-tile.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	daemontest.StartCamera(t, testcamera.Options{Addr: addr})
	evalIn[bool](t, b, `(() => { document.querySelector('[data-camera="press-2"] button.retry').click(); return true; })()`)
	b.waitTile(t, "press-2", time.Until(next), "live before its scheduled retry (Retry now did nothing)",
		func(v tileView) bool { return v.State == "live" })
	b.noConsoleProblems(t)
}

// A frozen camera's tile goes from live to frozen to offline and holds
// that while the server's attempts come and go, until frames flow again.
func TestBrowserFrozenCameraHoldsOneStateUntilFramesFlow(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	b.waitTile(t, "press-1", 10*time.Second, "live", func(v tileView) bool { return v.State == "live" && v.VideoFrames > 0 })

	c.Pause()
	// Watch the badge through three failed attempts of the server.
	var seen []string
	retries := map[time.Time]bool{}
	daemontest.WaitFor(t, 60*time.Second, "three failed attempts", func() bool {
		badge := b.problem(t, "press-1").Badge
		if len(seen) == 0 || seen[len(seen)-1] != badge {
			seen = append(seen, badge)
		}
		if n := d.Camera(t, "press-1").NextRetry; n != nil {
			retries[*n] = true
		}
		return len(retries) >= 3
	})
	t.Logf("badges while frozen: %q", seen)
	order := map[string]int{"live": 0, "frozen": 1, "camera offline": 2}
	for i, s := range seen {
		if _, ok := order[s]; !ok || (i > 0 && order[s] < order[seen[i-1]]) {
			t.Fatalf("the badge went %q: want live, frozen, camera offline, never back", seen)
		}
	}
	if p := b.problem(t, "press-1"); p.Title != "Camera sends no picture" && p.Title != "Camera not answering" {
		t.Errorf("frozen camera's tile says %q", p.Title)
	}
	c.Resume()
	b.waitTile(t, "press-1", 30*time.Second, "live again", func(v tileView) bool { return v.State == "live" && v.Stale == "" })
}

// When the server cannot be reached every tile says so at once, with the
// header's notice, not when its picture has been still for 5 s.
func TestBrowserMarksEveryTileAtOnceWhenServerIsUnreachable(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	names := []string{"press-1", "press-2"}
	d := daemontest.Start(t, nil,
		daemontest.Camera(names[0], daemontest.StartCamera(t, testcamera.Options{}).URL()),
		daemontest.Camera(names[1], daemontest.StartCamera(t, testcamera.Options{}).URL()))
	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"))
	for _, n := range names {
		b.waitTile(t, n, 15*time.Second, "live", func(v tileView) bool { return v.State == "live" && v.VideoFrames > 0 })
	}
	d.Stop()
	type view struct {
		Notice bool     `json:"notice"`
		Tiles  []string `json:"tiles"`
	}
	var v view
	daemontest.WaitFor(t, 10*time.Second, "the page noticing the server is gone", func() bool {
		v = evalIn[view](t, b, `({
		  notice: !document.getElementById('api-status').hidden,
		  tiles: [...document.querySelectorAll('[data-camera]')].map((e) =>
		    e.querySelector('.problem').hidden ? '' : e.querySelector('.problem-title').textContent),
		})`)
		return v.Notice
	})
	for i, title := range v.Tiles {
		if title != "Server unreachable" {
			t.Errorf("tile %d says %q while the header says the server is unreachable", i, title)
		}
	}
}
