package daemon

// The browser tests drive Debian's headless Chromium against a daemon running
// in the test process. WebRTC media between the two must never touch the
// machine's real interfaces, so every browser test runs twice: the first run
// (the "parent") creates a network namespace of its own and re-executes the
// test binary inside it for just that test (the "child"), which starts the
// daemon, the test camera and Chromium there. The namespace has lo and a veth
// pair whose two ends both stay inside: with lo alone Chromium considers itself
// offline and gathers no ICE candidates.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const (
	// netnsEnv is set in the child: the name of the namespace it runs in.
	netnsEnv = "EDGECAM_TEST_NETNS"
	// netnsChildTimeout bounds one browser test run inside its namespace.
	netnsChildTimeout = 90 * time.Second
)

// The veth pair inside each test namespace. Names and addresses are private
// to the namespace, so parallel runs cannot clash over them.
var netnsVeth = []struct{ name, addr string }{
	{"edgecam0", "10.231.7.1/24"},
	{"edgecam1", "10.231.7.2/24"},
}

var netnsSeq atomic.Int32

// inTestNetns reports whether the calling browser test is running inside its
// own network namespace and should go on. Outside one, it checks that root,
// ip, chromium and tools are available (skipping when they are not, unless
// CI=true, where that is a failure), creates the namespace, re-runs the test
// there with its output streamed into this test's log, deletes the namespace
// and returns false: the test has run and its result is this test's result.
func inTestNetns(t *testing.T, tools ...string) bool {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		return true
	}
	needBrowserTestTools(t, tools...)
	ns := fmt.Sprintf("edgecam-test-%d-%d", os.Getpid(), netnsSeq.Add(1))
	createTestNetns(t, ns)
	runInTestNetns(t, ns)
	return false
}

func needBrowserTestTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (to create a network namespace)")
	}
	for _, tool := range append([]string{"ip", "chromium"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("browser test needs %s (Debian: apt-get install chromium ffmpeg iproute2, and run as root)",
		strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure, not a skip", msg)
	}
	t.Skip(msg)
}

// ipCommand runs ip with args, bounded in time.
func ipCommand(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// createTestNetns creates namespace ns with lo and a veth pair up, and deletes
// it when the test ends, whatever the outcome.
func createTestNetns(t *testing.T, ns string) {
	t.Helper()
	if err := ipCommand("netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteTestNetns(t, ns) })
	a, b := netnsVeth[0], netnsVeth[1]
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", a.name, "type", "veth", "peer", "name", b.name},
		{"-n", ns, "addr", "add", a.addr, "dev", a.name},
		{"-n", ns, "addr", "add", b.addr, "dev", b.name},
		{"-n", ns, "link", "set", a.name, "up"},
		{"-n", ns, "link", "set", b.name, "up"},
	} {
		if err := ipCommand(args...); err != nil {
			t.Fatal(err)
		}
	}
}

// deleteTestNetns ends whatever the child left running in the namespace (all
// of it started by this test: the namespace was created for it) and deletes
// the namespace.
func deleteTestNetns(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			var n int
			if _, err := fmt.Sscan(pid, &n); err == nil && n > 0 {
				t.Errorf("process %d still ran in namespace %s after the test; killing it", n, ns)
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	}
	if err := ipCommand("netns", "delete", ns); err != nil {
		t.Errorf("deleting the test namespace: %v", err)
	}
}

// runInTestNetns re-executes this test binary in ns for t's test alone and
// fails t unless it passes there.
func runInTestNetns(t *testing.T, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), netnsChildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0],
		"-test.run", "^"+regexp.QuoteMeta(t.Name())+"$",
		"-test.v", "-test.count=1",
		// Shorter than ours, so a hang panics with every goroutine's stack.
		"-test.timeout", (netnsChildTimeout - 10*time.Second).String())
	cmd.Env = append(os.Environ(), netnsEnv+"="+ns)
	out := &lineLogger{t: t, prefix: "[" + ns + "] "}
	cmd.Stdout, cmd.Stderr = out, out
	// ip netns exec execs the test binary itself, so the signal reaches it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	out.flush()
	if err != nil {
		t.Fatalf("browser test in namespace %s failed after %s: %v", ns, time.Since(start).Round(time.Millisecond), err)
	}
	if !strings.Contains(out.all.String(), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("browser test in namespace %s did not pass (was it skipped or not run?)", ns)
	}
}

// lineLogger passes a child's output to t.Log line by line, so it streams
// into the test's log as it comes.
type lineLogger struct {
	t       *testing.T
	prefix  string
	partial []byte
	all     bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Log(l.prefix + string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

func (l *lineLogger) flush() {
	if len(l.partial) > 0 {
		l.t.Log(l.prefix + string(l.partial))
		l.partial = nil
	}
}

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
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // as root, Chromium refuses to run sandboxed
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
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
// result into a T.
func evalIn[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
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
}

func (v tileView) String() string {
	return fmt.Sprintf("state=%q transport=%q stale=%q video %dx%d frames=%d jpeg %dx%d",
		v.State, v.Transport, v.Stale, v.VideoWidth, v.VideoHeight, v.VideoFrames, v.JPEGWidth, v.JPEGHeight)
}

const tileViewJS = `((name) => {
  const el = [...document.querySelectorAll('[data-camera]')].find((e) => e.dataset.camera === name);
  if (!el) return { found: false };
  const v = el.querySelector('video.cam-video');
  const img = el.querySelector('img.cam-jpeg');
  const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  const whepURL = new URL('/cameras/' + encodeURIComponent(name) + '/whep', location.href).href;
  const whep = performance.getEntriesByType('resource').find((e) => e.name === whepURL);
  return {
    found: true,
    state: el.dataset.state || '',
    transport: el.dataset.transport || '',
    stale: el.dataset.stale || '',
    videoWidth: v ? v.videoWidth : 0,
    videoHeight: v ? v.videoHeight : 0,
    videoFrames: q ? q.totalVideoFrames : 0,
    jpegWidth: img ? img.naturalWidth : 0,
    jpegHeight: img ? img.naturalHeight : 0,
    firstFrameMs: (window.__edgecamFirstFrame || {})[name] || 0,
    whepSentMs: whep ? whep.startTime : 0,
    whepAnsweredMs: whep ? whep.responseEnd : 0,
  };
})(%s)`

// tile reads camera name's tile.
func (b *browser) tile(t *testing.T, name string) tileView {
	t.Helper()
	arg, _ := json.Marshal(name)
	return evalIn[tileView](t, b, fmt.Sprintf(tileViewJS, arg))
}

// waitTile polls camera name's tile every 20 ms until cond holds, failing the
// test after timeout. It returns the view that satisfied cond.
func (b *browser) waitTile(t *testing.T, name string, timeout time.Duration, what string, cond func(tileView) bool) tileView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var v tileView
	for {
		v = b.tile(t, name)
		if v.Found && cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera %s: tile not %s after %s: %s; console problems: %q",
				name, what, timeout, v, b.consoleProblems())
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
