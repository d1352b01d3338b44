package main

// The page scenarios measure how long a person waits for pictures when
// opening the wall: headless Chromium loads the page again and again, and
// every load is taken apart stage by stage, from the page's own
// performance marks (tile.js, whep.js, app.js), the first frame's video
// frame metadata and RTCPeerConnection getStats. Like the grid scenarios, they run in a network namespace of
// their own (grid.go).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
)

// pageScenarios are named but not in "all": they need root and Chromium.
var pageScenarios = []scenario{
	{Name: "page-1x1080p", About: "1 camera 1080p30 4 Mbit/s GOP 2 s: the page loaded again and again", Cameras: 1, Clip: res1080, Page: true},
	{Name: "page-4x1080p", About: "4 cameras 1080p30 4 Mbit/s GOP 2 s", Cameras: 4, Clip: res1080, Page: true},
	{Name: "page-16x360p", About: "16 cameras 360p30 1 Mbit/s GOP 2 s", Cameras: 16, Clip: res360, Page: true},
	{Name: "page-16x-sub", About: "16 cameras 1080p30 with 360p30 sub-streams, which the grid plays", Cameras: 16, Clip: res1080, Sub: res360, Page: true},
}

// pageLoads is how many loads one run of a page scenario measures.
const pageLoads = 10

// pageStages are the stages of a page's start, in order: a mark of the
// page's (edgecam:NAME), or one read from the browser's timing.
var pageStages = []struct{ name, about string }{
	{"html", "page's HTML received (navigation timing)"},
	{"dom", "HTML parsed (domInteractive)"},
	{"init", "page scripts running"},
	{"cameras", "camera list received"},
	{"load", "page's load event (navigation timing); tiles give their videos the streams"},
	{"webrtc", "tile starts WebRTC"},
	{"whep-post", "WHEP POST sent"},
	{"post-request", "POST leaves the browser (resource timing)"},
	{"post-server", "… plus the server's time to answer (Server-Timing)"},
	{"post-response", "answer's first byte back (resource timing)"},
	{"whep-answer", "answer received"},
	{"whep-applied", "answer applied (setRemoteDescription)"},
	{"ice-connected", "ICE connected"},
	{"dtls-connected", "DTLS connected"},
	{"first-received", "first frame's last packet (video frame metadata)"},
	{"first-decoded", "first frame decoded (its receive time + processing)"},
	{"first-presented", "first frame handed to the compositor (video frame metadata)"},
	{"first-frame", "first frame rendered (requestVideoFrameCallback)"},
	{"moving", "second frame rendered: the picture moves"},
}

// pageProbeJS runs in every document before the page's scripts: it keeps
// the page's peer connections, whose receivers' statistics pageResultJS
// reads once the grid plays. It polls nothing while the page starts: it
// used to poll getStats every 10 ms until each track had a packet, which
// on the 2-core VM took 20 ms of the page's main thread a poll for a
// connection of eight cameras, in the very moments it measured. The first
// frame's video frame metadata says when its last packet came instead.
const pageProbeJS = `(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig) return;
  const pcs = [];
  window.__edgecamProbe = { pcs };
  window.RTCPeerConnection = class extends Orig {
    constructor(...a) { super(...a); pcs.push(this); }
  };
})()`

// pageResultJS reads one load: per camera, the first occurrence of each
// stage, and the decoder's statistics of the stream its tile shows.
const pageResultJS = `(async () => {
  const out = {};
  const cam = (name) => (out[name] ??= { stages: {} });
  const nav = performance.getEntriesByType('navigation')[0];
  const page = nav ? { html: nav.responseEnd, dom: nav.domInteractive, load: nav.loadEventStart } : {};
  for (const m of performance.getEntriesByType('mark')) {
    if (!m.name.startsWith('edgecam:')) continue;
    const stage = m.name.slice(8);
    if (!m.detail) { page[stage] ??= m.startTime; continue; }
    const st = cam(m.detail.camera).stages;
    if (stage in st) continue;
    st[stage] = m.startTime;
    if (stage === 'first-frame' && m.detail.receiveTime > 0) {
      st['first-received'] = m.detail.receiveTime;
      st['first-decoded'] = m.detail.receiveTime + 1000 * (m.detail.processingDuration || 0);
    }
    if (stage === 'first-frame' && m.detail.presentationTime > 0) {
      st['first-presented'] = m.detail.presentationTime;
    }
  }
  // The WHEP POSTs' resource timing: when the request left the browser,
  // when the answer's first byte came back, and what the server says it
  // spent (Server-Timing), for each camera of the offer.
  for (const r of performance.getEntriesByType('resource')) {
    const u = new URL(r.name);
    if (!u.pathname.endsWith('/whep')) continue;
    const names = u.pathname === '/whep' ? u.searchParams.getAll('camera')
      : [decodeURIComponent(u.pathname.split('/')[2])];
    for (const n of names) {
      const st = cam(n).stages;
      if ('post-request' in st) continue;
      st['post-request'] = r.requestStart;
      st['post-response'] = r.responseStart;
      const t = (r.serverTiming || []).find((e) => e.name === 'answer');
      if (t) st['post-server'] = r.requestStart + t.duration;
    }
  }
  const probe = window.__edgecamProbe || { pcs: [] };
  for (const el of document.querySelectorAll('[data-camera]')) {
    const c = cam(el.dataset.camera);
    Object.assign(c.stages, page);
    const id = el.querySelector('video.cam-video')?.srcObject?.getVideoTracks()[0]?.id;
    if (!id) continue;
    const receiver = probe.pcs.flatMap((pc) => pc.connectionState === 'closed' ? [] : pc.getReceivers())
      .find((r) => r.track && r.track.id === id);
    if (!receiver) continue;
    const rep = await receiver.getStats();
    rep.forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
      c.framesDecoded = r.framesDecoded; c.framesDropped = r.framesDropped || 0;
      c.keyFramesDecoded = r.keyFramesDecoded || 0; c.pliCount = r.pliCount || 0;
      c.nackCount = r.nackCount || 0; c.packetsLost = r.packetsLost || 0;
      c.decodeMs = 1000 * (r.totalDecodeTime || 0);
      c.jitterMs = r.jitterBufferEmittedCount ? 1000 * r.jitterBufferDelay / r.jitterBufferEmittedCount : 0;
    });
  }
  return out;
})()`

// pageCamera is one tile's start in one load.
type pageCamera struct {
	Stages        map[string]float64 `json:"stages"` // ms since navigation start
	FramesDecoded int                `json:"framesDecoded"`
	FramesDropped int                `json:"framesDropped"`
	KeyFrames     int                `json:"keyFramesDecoded"`
	PLIs          int                `json:"pliCount"` // keyframes the browser asked for
	NACKs         int                `json:"nackCount"`
	PacketsLost   int                `json:"packetsLost"`
	DecodeMs      float64            `json:"decodeMs"` // total decode time so far
	JitterMs      float64            `json:"jitterMs"` // mean jitter buffer delay
}

// pageLoad is one load: each stage's time for the slowest tile (the wall
// is playing when its last tile is), and that tile's decoder figures.
type pageLoad struct {
	Stages  map[string]float64 `json:"stages_ms"`
	Cameras map[string]pageCamera
}

// pageRun is one run of a page scenario: pageLoads loads.
type pageRun struct {
	Loads []pageLoad `json:"loads"`
}

// runPage runs one page scenario: the cameras, the daemon and Chromium,
// which loads the grid pageLoads times, each from a blank page.
func (b *bench) runPage(ctx context.Context, sc scenario, first bool) (pageRun, error) {
	var r pageRun
	w, err := b.startWall(ctx, sc, first)
	if err != nil {
		return r, err
	}
	defer w.stop()
	d, bctx := w.d, w.bctx
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: pageProbeJS}); err != nil {
		return r, fmt.Errorf("chromium: install the probe: %w", err)
	}
	// -profile: the daemon's CPU over the loads (about 2 s each).
	defer b.startProfile(d, sc.Name, pageLoads*2*time.Second)()
	want := "main"
	if sc.Sub != (clipSpec{}) {
		want = "sub"
	}
	for i := range pageLoads {
		var tr *chromeTrace
		if b.opts.Trace != "" && i == pageLoads-1 {
			if tr, err = startTrace(bctx); err != nil {
				return r, err
			}
		}
		if err := chromedp.Do(bctx, chromedp.Navigate(d.base+"/")); err != nil {
			return r, fmt.Errorf("chromium: open the grid: %w", err)
		}
		if err := waitGridLive(ctx, bctx, sc.Cameras, want); err != nil {
			return r, err
		}
		if tr != nil {
			b.traces++
			name := fmt.Sprintf("%s-%s-%d.json", sc.Name, filepath.Base(b.bin), b.traces)
			if err := tr.stop(ctx, filepath.Join(b.opts.Trace, name)); err != nil {
				return r, err
			}
		}
		cams, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]pageCamera](pageResultJS, chromedp.EvalAwaitPromise))
		if err != nil {
			return r, fmt.Errorf("chromium: read the load's marks: %w", err)
		}
		r.Loads = append(r.Loads, slowest(cams))
		// A blank page ends the sessions (the page DELETEs them), and the
		// next load starts with the daemon as a new visitor finds it.
		if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
			return r, err
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return r, err
		}
	}
	return r, nil
}

// slowest takes, for each stage, the tile that reached it last.
func slowest(cams map[string]pageCamera) pageLoad {
	l := pageLoad{Stages: map[string]float64{}, Cameras: cams}
	for _, c := range cams {
		for s, ms := range c.Stages {
			l.Stages[s] = max(l.Stages[s], ms)
		}
	}
	return l
}

// pageHeader heads the table of a page scenario.
var pageHeader = []string{"stage (slowest tile of each load)", "median ms", "worst ms"}

// printPage prints a page scenario's stages over all its loads.
func (r *scenarioResult) printPage(row func(cells ...string)) {
	var loads []pageLoad
	for _, run := range r.PageRuns {
		loads = append(loads, run.Loads...)
	}
	if len(loads) == 0 {
		return
	}
	row(fmt.Sprintf("**%s** (%d loads)", r.Name, len(loads)), "", "")
	for _, st := range pageStages {
		var xs []float64
		for _, l := range loads {
			if v, ok := l.Stages[st.name]; ok && v > 0 {
				xs = append(xs, v)
			}
		}
		if len(xs) == 0 {
			row(st.about, "n/a", "n/a")
			continue
		}
		slices.Sort(xs)
		row(st.about, fmt.Sprintf("%.0f", statOf(xs).Median), fmt.Sprintf("%.0f", xs[len(xs)-1]))
	}
}

// traceCategories are what a page trace records: the renderer's tasks,
// script, style, layout and paint, the page's own marks, and JavaScript
// samples, as the browser's performance panel records them.
var traceCategories = []string{
	"toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline",
	"disabled-by-default-devtools.timeline.frame", "v8.execute", "blink.user_timing",
	"blink", "webrtc", "media", "disabled-by-default-v8.cpu_profiler",
}

// chromeTrace is a Chromium trace under way (-trace).
type chromeTrace struct {
	bctx   context.Context
	cancel context.CancelFunc // ends the listener
	mu     sync.Mutex
	buf    bytes.Buffer
	done   chan struct{}
}

func startTrace(bctx context.Context) (*chromeTrace, error) {
	lctx, cancel := context.WithCancel(bctx)
	t := &chromeTrace{bctx: bctx, cancel: cancel, done: make(chan struct{})}
	var once sync.Once
	err := chromedp.Listen(lctx, func(ev any) {
		switch ev := ev.(type) {
		case *tracing.EventDataCollected:
			t.mu.Lock()
			for _, v := range ev.Value {
				if t.buf.Len() > 0 {
					t.buf.WriteByte(',')
				}
				t.buf.Write(v)
			}
			t.mu.Unlock()
		case *tracing.EventTracingComplete:
			once.Do(func() { close(t.done) })
		}
	})
	if err == nil {
		_, err = chromedp.Call(bctx, tracing.Start, tracing.StartParams{
			TransferMode: tracing.StartTransferModeReportEvents,
			TraceConfig:  &tracing.TraceConfig{IncludedCategories: traceCategories},
		})
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("chromium: start a trace: %w", err)
	}
	return t, nil
}

// stop ends the trace and writes it to path in the trace event format.
func (t *chromeTrace) stop(ctx context.Context, path string) error {
	defer t.cancel()
	if _, err := chromedp.Call(t.bctx, tracing.End, cdp.Empty{}); err != nil {
		return fmt.Errorf("chromium: end the trace: %w", err)
	}
	select {
	case <-t.done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("chromium: the trace did not end within 30 s")
	case <-ctx.Done():
		return ctx.Err()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append(append([]byte(`{"traceEvents":[`), t.buf.Bytes()...), "]}\n"...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	logf("chromium trace: %s", path)
	return os.WriteFile(path, out, 0o644)
}
