package main

// The grid scenarios put the page's camera wall in headless Chromium and
// measure what it costs the browser and the box: the grid of 16 cameras
// playing their main streams (1080p) against the same grid playing their
// sub-streams (360p). Chromium and everything it talks to run in a network
// namespace of their own (package netns), as in the browser tests, so the
// WebRTC media never touches the machine's interfaces: the bench re-runs
// itself inside one when a grid scenario is asked for.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/e2e/chromium"
	"github.com/edgecam/edgecam/daemon/e2e/netns"
)

// benchNetnsEnv is set in the bench re-run inside its namespace.
const benchNetnsEnv = "EDGECAM_BENCH_NETNS"

// gridWidth and gridHeight are the browser's window: a full-HD camera wall.
const gridWidth, gridHeight = 1920, 1080

// gridScenarios are named but not in "all": they need root and Chromium.
var gridScenarios = []scenario{
	{Name: "16x-grid-main", About: "16 cameras 1080p30 4 Mbit/s, headless Chromium's grid playing each over WebRTC", Cameras: 16, Clip: res1080, Grid: true},
	{Name: "16x-grid-sub", About: "the same cameras, each with a 360p30 1 Mbit/s sub-stream, which the grid plays", Cameras: 16, Clip: res1080, Grid: true, Sub: res360},
	{Name: "16x-grid-sub-od", About: "the same with on_demand: true, so the main streams nobody watches are not pulled", Cameras: 16, Clip: res1080, Grid: true, Sub: res360, OnDemand: true},
}

// gridRun is one run of a grid scenario.
type gridRun struct {
	DaemonCPU  float64 `json:"daemon_cpu_pct"`
	BrowserCPU float64 `json:"browser_cpu_pct"` // every Chromium process
	DaemonRSS  float64 `json:"daemon_rss_mb"`
	// FPS is the frames each tile's <video> decoded a second over the
	// window (of the cameras' 30): the median tile and the slowest.
	FPSMedian float64 `json:"tile_fps_median"`
	FPSMin    float64 `json:"tile_fps_min"`
	LiveMs    float64 `json:"all_live_ms"` // navigation → every tile live
}

// runInBenchNetns re-runs this bench with its arguments in a network
// namespace made for it, and returns its exit code.
func runInBenchNetns(ctx context.Context) int {
	if os.Geteuid() != 0 {
		logf("the grid scenarios run Chromium in a network namespace of their own: run as root")
		return 2
	}
	for _, tool := range []string{"ip", "chromium"} {
		if _, err := exec.LookPath(tool); err != nil {
			logf("the grid scenarios need %s (Debian: apt-get install chromium iproute2)", tool)
			return 2
		}
	}
	ns := fmt.Sprintf("edgecam-bench-%d", os.Getpid())
	if err := netns.Create(ns, netns.BrowserVeth()); err != nil {
		logf("%v", err)
		return 1
	}
	defer func() {
		killed, err := netns.Delete(ns)
		if len(killed) > 0 {
			logf("killed %v, left running in %s", killed, ns)
		}
		if err != nil {
			logf("%v", err)
		}
	}()
	self, err := os.Executable()
	if err != nil {
		logf("%v", err)
		return 1
	}
	cmd := netns.Command(ctx, ns, append([]string{self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), benchNetnsEnv+"="+ns)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The re-run stops its daemon and Chromium itself on SIGTERM.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		logf("%v", err)
		return 1
	}
	return 0
}

// runGrid runs one grid scenario: the cameras (and their sub-streams), the
// daemon, and Chromium on the grid over WebRTC; then it measures the daemon
// and the browser side by side over the window.
func (b *bench) runGrid(ctx context.Context, sc scenario, first bool) (gridRun, error) {
	var r gridRun
	w, err := b.startWall(ctx, sc, first)
	if err != nil {
		return r, err
	}
	defer w.stop()
	d, bctx, pid := w.d, w.bctx, w.pid
	want := "main"
	if sc.Sub != (clipSpec{}) {
		want = "sub"
	}
	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(d.base+"/?transport=webrtc&grid=live")); err != nil {
		return r, fmt.Errorf("chromium: open the grid: %w", err)
	}
	if err := waitGridLive(ctx, bctx, sc.Cameras, want); err != nil {
		return r, err
	}
	r.LiveMs = float64(time.Since(start).Milliseconds())
	if err := sleepCtx(ctx, b.opts.Warmup); err != nil {
		return r, err
	}
	f0, err := tileFrames(bctx)
	if err != nil {
		return r, err
	}
	b0 := treeTicks(pid)
	t0 := time.Now()
	done := b.startProfile(d, sc.Name, b.opts.Window)
	s, err := b.measure(ctx, d, b.opts.Window)
	done()
	if err != nil {
		return r, err
	}
	el := time.Since(t0).Seconds()
	r.BrowserCPU = float64(childDelta(b0, treeTicks(pid))) / clockTicks / el * 100
	f1, err := tileFrames(bctx)
	if err != nil {
		return r, err
	}
	r.DaemonCPU, r.DaemonRSS = s.daemonCPU+s.childCPU, s.rssMax
	var fps []float64
	for i := range min(len(f0), len(f1)) {
		fps = append(fps, float64(f1[i]-f0[i])/el)
	}
	if len(fps) > 0 {
		slices.Sort(fps)
		r.FPSMedian, r.FPSMin = fps[len(fps)/2], fps[0]
	}
	return r, nil
}

// wall is a scenario's cameras (and sub-streams), the daemon pulling them
// and headless Chromium, ready to open the page.
type wall struct {
	d    *daemonProc
	bctx context.Context
	pid  int // Chromium's
	stop func()
}

// startWall starts sc's cameras, the daemon and Chromium.
func (b *bench) startWall(ctx context.Context, sc scenario, first bool) (*wall, error) {
	cams, err := b.startCameras(ctx, sc)
	if err != nil {
		return nil, err
	}
	if sc.Sub != (clipSpec{}) {
		subSc := sc
		subSc.Clip = sc.Sub
		subs, err := b.startCameras(ctx, subSc)
		if err != nil {
			closeCameras(cams)
			return nil, err
		}
		cams = append(cams, subs...)
	}
	d, err := b.startDaemon(ctx, sc, cams[:sc.Cameras], first && b.opts.Profile != "", cams[sc.Cameras:]...)
	if err != nil {
		closeCameras(cams)
		return nil, err
	}
	bctx, stopBrowser, pid, err := startChromium(ctx, b.tmp)
	if err != nil {
		d.stop()
		closeCameras(cams)
		return nil, err
	}
	return &wall{d: d, bctx: bctx, pid: pid, stop: func() {
		stopBrowser()
		d.stop()
		closeCameras(cams)
	}}, nil
}

func closeCameras(cams []*testcamera.Camera) {
	for _, c := range cams {
		c.Close()
	}
}

// startChromium starts headless Chromium with a fresh profile in dir,
// decoding in software as on a display machine without a GPU the browser
// can use here. It returns the browser's context, a stop function that
// waits for it to end, and its process id.
func startChromium(ctx context.Context, dir string) (context.Context, func(), int, error) {
	profile, err := os.MkdirTemp(dir, "chromium-")
	if err != nil {
		return nil, nil, 0, err
	}
	opts, err := chromium.Options(profile, gridWidth, gridHeight)
	if err != nil {
		return nil, nil, 0, err
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	stop := func() { cancel(); cancelAlloc() }
	// The first action starts the browser, which then lives as long as
	// bctx; a timer bounds the start instead of the action's context.
	t := time.AfterFunc(20*time.Second, cancel)
	err = chromedp.Do(bctx, chromedp.Navigate("about:blank"))
	if !t.Stop() || err != nil {
		stop()
		return nil, nil, 0, fmt.Errorf("start chromium (20 s at most): %v", err)
	}
	return bctx, stop, chromedp.FromContext(bctx).Browser.Process().Pid, nil
}

// waitGridLive waits up to 30 s for n tiles live over WebRTC, each playing
// stream want.
func waitGridLive(ctx, bctx context.Context, n int, want string) error {
	expr := fmt.Sprintf(`[...document.querySelectorAll('[data-camera]')].filter((e) =>
		e.dataset.state === 'live' && e.dataset.transport === 'webrtc' && e.dataset.stream === %q).length`, want)
	deadline := time.Now().Add(30 * time.Second)
	live := 0
	for time.Now().Before(deadline) {
		var err error
		if live, err = chromedp.Run(bctx, chromedp.Evaluate[int](expr)); err != nil {
			return fmt.Errorf("chromium: %w", err)
		}
		if live == n {
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%d of %d tiles live on the %s stream after 30 s", live, n, want)
}

// tileFrames reads how many frames each tile's <video> has decoded.
func tileFrames(bctx context.Context) ([]int, error) {
	const expr = `[...document.querySelectorAll('[data-camera] video.cam-video')].map((v) => v.getVideoPlaybackQuality().totalVideoFrames)`
	return chromedp.Run(bctx, chromedp.Evaluate[[]int](expr))
}

func (r *scenarioResult) summarizeGrid(col func(name string, f func(i int) (float64, bool), n int)) {
	g := func(name string, f func(x gridRun) float64) {
		col(name, func(i int) (float64, bool) { return f(r.GridRuns[i]), true }, len(r.GridRuns))
	}
	g("grid_daemon_cpu_pct", func(x gridRun) float64 { return x.DaemonCPU })
	g("grid_browser_cpu_pct", func(x gridRun) float64 { return x.BrowserCPU })
	g("grid_daemon_rss_mb", func(x gridRun) float64 { return x.DaemonRSS })
	g("grid_tile_fps", func(x gridRun) float64 { return x.FPSMedian })
	g("grid_tile_fps_min", func(x gridRun) float64 { return x.FPSMin })
	g("grid_all_live_ms", func(x gridRun) float64 { return x.LiveMs })
}

// gridHeader heads the table of the grid scenarios.
var gridHeader = []string{"grid scenario", "daemon CPU % of a core", "Chromium CPU % of a core", "daemon RSS MB", "frames decoded/s per tile of 30 (median, slowest)", "every tile live ms"}

func (r *scenarioResult) printGrid(row func(cells ...string)) {
	if len(r.GridRuns) == 0 {
		return
	}
	row(r.Name, r.cell("grid_daemon_cpu_pct", "%.1f"), r.cell("grid_browser_cpu_pct", "%.0f"), r.cell("grid_daemon_rss_mb", "%.1f"),
		r.cell("grid_tile_fps", "%.1f")+", "+r.cell("grid_tile_fps_min", "%.1f"), r.cell("grid_all_live_ms", "%.0f"))
}
