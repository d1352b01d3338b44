//go:build browser

package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/daemon/e2e/chromium"
)

// browser is one headless Chromium with one tab, which records every console
// error, uncaught exception and browser log error of the pages it shows.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// startBrowser starts Chromium with a fresh profile and stops it when the test
// ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	opts, err := chromium.Options(t.TempDir(), 1280, 800)
	if err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx}
	consoleDone := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		select {
		case <-consoleDone:
		case <-time.After(5 * time.Second):
			t.Error("console reader did not end within 5s of closing the browser")
		}
	})
	started := time.Now()
	// The first action starts the browser, which then lives as long as the
	// context of that action: so ctx itself, bounded by a timer instead.
	stop := time.AfterFunc(20*time.Second, cancel)
	err = chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	if !stop.Stop() || err != nil {
		close(consoleDone)
		t.Fatalf("starting chromium (20s at most): %v", err)
	}
	t.Logf("chromium started in %s", time.Since(started).Round(time.Millisecond))
	messages := chromedp.Console(ctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions on the tab, failing the test after timeout.
func (b *browser) do(t *testing.T, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// evalIn evaluates a JavaScript expression in the page and decodes its JSON
// result into a T; opts such as chromedp.EvalAwaitPromise apply.
func evalIn[T any](t *testing.T, b *browser, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// consoleProblems returns the errors and exceptions recorded so far.
func (b *browser) consoleProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// noConsoleProblems fails t if the page has logged errors so far.
func (b *browser) noConsoleProblems(t *testing.T) {
	t.Helper()
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("the page logged errors:\n%s", p)
	}
}

// firstFrameScript runs in every document before the page's own scripts. It
// records, for each camera tile, performance.now() (milliseconds since
// navigation start) when its <video> presents its first decoded frame.
const firstFrameScript = `
window.__edgecamFirstFrame = {};
document.addEventListener('loadstart', (ev) => {
  const v = ev.target;
  if (!(v instanceof HTMLVideoElement) || typeof v.requestVideoFrameCallback !== 'function') return;
  v.requestVideoFrameCallback(() => {
    const name = v.closest('[data-camera]')?.dataset.camera;
    if (name && !(name in window.__edgecamFirstFrame)) window.__edgecamFirstFrame[name] = performance.now();
  });
}, true);
`

// installFirstFrameProbe makes every later document record first frames (see
// firstFrameScript).
func (b *browser) installFirstFrameProbe(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: firstFrameScript}); err != nil {
		t.Fatal(err)
	}
}

// tileView is what a camera tile shows, as the page's data-* contract and its
// media elements tell.
type tileView struct {
	Found        bool    `json:"found"`
	State        string  `json:"state"`     // data-state
	Transport    string  `json:"transport"` // data-transport
	Stream       string  `json:"stream"`    // data-stream: main or sub
	Stale        string  `json:"stale"`     // data-stale
	VideoWidth   int     `json:"videoWidth"`
	VideoHeight  int     `json:"videoHeight"`
	VideoFrames  int     `json:"videoFrames"` // total frames decoded by the <video>
	JPEGWidth    int     `json:"jpegWidth"`   // naturalWidth of img.cam-jpeg
	JPEGHeight   int     `json:"jpegHeight"`
	FirstFrameMs float64 `json:"firstFrameMs"` // from firstFrameScript; 0 if none yet
	// The tile's first WHEP POST, in ms since navigation start: sent and
	// answered (0 if none).
	WHEPSentMs     float64 `json:"whepSentMs"`
	WHEPAnsweredMs float64 `json:"whepAnsweredMs"`
	Reason         string  `json:"reason"` // the tile's visible reason line
}

func (v tileView) String() string {
	return fmt.Sprintf("state=%q transport=%q stream=%q stale=%q video %dx%d frames=%d jpeg %dx%d",
		v.State, v.Transport, v.Stream, v.Stale, v.VideoWidth, v.VideoHeight, v.VideoFrames, v.JPEGWidth, v.JPEGHeight)
}

const tileViewJS = `((name) => {
  const el = [...document.querySelectorAll('[data-camera]')].find((e) => e.dataset.camera === name);
  if (!el) return { found: false };
  const v = el.querySelector('video.cam-video');
  const img = el.querySelector('img.cam-jpeg');
  const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  // The tile's own WHEP endpoint, or the wall's (/whep?camera=…) naming it.
  const whepPath = '/cameras/' + encodeURIComponent(name) + '/whep';
  const whep = performance.getEntriesByType('resource').find((e) => {
    const u = new URL(e.name);
    return u.pathname === whepPath || (u.pathname === '/whep' && u.searchParams.getAll('camera').includes(name));
  });
  return {
    found: true,
    state: el.dataset.state || '',
    transport: el.dataset.transport || '',
    stream: el.dataset.stream || '',
    stale: el.dataset.stale || '',
    videoWidth: v ? v.videoWidth : 0,
    videoHeight: v ? v.videoHeight : 0,
    videoFrames: q ? q.totalVideoFrames : 0,
    jpegWidth: img ? img.naturalWidth : 0,
    jpegHeight: img ? img.naturalHeight : 0,
    firstFrameMs: (window.__edgecamFirstFrame || {})[name] || 0,
    whepSentMs: whep ? whep.startTime : 0,
    whepAnsweredMs: whep ? whep.responseEnd : 0,
    reason: (el.querySelector('.reason:not([hidden])') || {}).textContent || '',
  };
})(%s)`

// tile reads camera name's tile.
func (b *browser) tile(t *testing.T, name string) tileView {
	t.Helper()
	arg, _ := json.Marshal(name)
	return evalIn[tileView](t, b, fmt.Sprintf(tileViewJS, arg))
}

// tryTile is tile for a page that may be navigating: a document that went
// away while it was read (a login redirect, a reload) is an error to retry.
func (b *browser) tryTile(name string) (tileView, error) {
	arg, _ := json.Marshal(name)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[tileView](fmt.Sprintf(tileViewJS, arg)))
}

// waitTile polls camera name's tile every 20 ms until cond holds, failing the
// test after timeout. It returns the view that satisfied cond.
func (b *browser) waitTile(t *testing.T, name string, timeout time.Duration, what string, cond func(tileView) bool) tileView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := b.tryTile(name)
		if err == nil && v.Found && cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera %s: tile not %s after %s: %s (last read: %v); console problems: %q",
				name, what, timeout, v, err, b.consoleProblems())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// distinctColours counts the different colours in a PNG.
func distinctColours(t *testing.T, pngData []byte) (int, image.Rectangle) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	seen := make(map[[3]uint32]struct{})
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr >> 8, cg >> 8, cb >> 8}] = struct{}{}
		}
	}
	return len(seen), r
}

// screenshot captures the first element matching the CSS selector as a PNG.
func (b *browser) screenshot(t *testing.T, selector string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(selector, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", selector, err)
	}
	return shot
}
