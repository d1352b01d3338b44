package daemon

// Camera faults, each against the real RTSP test camera on loopback, with a
// second camera and its viewer running throughout to show that one camera's
// trouble never reaches another, and a goroutine-leak check at the end.

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// faultGoroutineMargin is how many more goroutines than before the test may
// still run once it is over: timers and pollers of the runtime and the HTTP
// client come and go on their own.
const faultGoroutineMargin = 3

// checkGoroutinesReturn records the number of goroutines now and, when the
// test ends, after everything else it set up has been stopped (it must be
// called before any other helper that registers a cleanup), waits a bounded
// time for the number to come back, and fails with every stack if it does not.
func checkGoroutinesReturn(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base+faultGoroutineMargin {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 8<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d goroutines 10s after the test, %d before it:\n%s", n, base, buf)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// frameWatch consumes a viewer's units in the background and records the
// longest wait between two of them, to prove a viewer kept playing while
// something else went wrong.
type frameWatch struct {
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	frames int
	last   time.Time
	maxGap time.Duration
}

func watchFrames(t *testing.T, v *whepclient.Client) *frameWatch {
	t.Helper()
	w := &frameWatch{stop: make(chan struct{}), done: make(chan struct{}), last: time.Now()}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-v.Units():
				w.mu.Lock()
				now := time.Now()
				w.maxGap = max(w.maxGap, now.Sub(w.last))
				w.frames++
				w.last = now
				w.mu.Unlock()
			case <-tick.C:
				// Notice a gap that is still going on.
				w.mu.Lock()
				w.maxGap = max(w.maxGap, time.Since(w.last))
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.end)
	return w
}

func (w *frameWatch) end() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// check fails the test if the viewer went without a frame for longer than
// maxGap, and reports how many frames it got.
func (w *frameWatch) check(t *testing.T, maxGap time.Duration) {
	t.Helper()
	w.end()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.frames == 0 || w.maxGap > maxGap {
		t.Errorf("the other camera's viewer got %d frames, with a gap of up to %s (want none over %s)", w.frames, w.maxGap.Round(time.Millisecond), maxGap)
	}
	t.Logf("other camera's viewer: %d frames, longest gap %s", w.frames, w.maxGap.Round(time.Millisecond))
}

func (d *testDaemon) requireHealthy(t *testing.T) {
	t.Helper()
	resp, err := http.Get(d.base + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: status %d", resp.StatusCode)
	}
}

// faultSetup is a daemon with two cameras, "other" and "victim", a viewer on
// each, and the other viewer watched for gaps.
type faultSetup struct {
	d      *testDaemon
	other  *frameWatch
	victim *whepclient.Client
}

// startFaultSetup starts the daemon for a victim camera at victimURL and
// waits until both viewers play.
func startFaultSetup(t *testing.T, victimURL string) *faultSetup {
	t.Helper()
	other := startCamera(t, testcamera.Options{})
	d := startDaemon(t, cam("other", other.URL()), cam("victim", victimURL))
	d.waitState(t, "other", "streaming", 10*time.Second)
	d.waitState(t, "victim", "streaming", 10*time.Second)
	vo := d.dial(t, "other")
	nextUnit(t, vo, 10*time.Second)
	vv := d.dial(t, "victim")
	nextUnit(t, vv, 10*time.Second)
	return &faultSetup{d: d, other: watchFrames(t, vo), victim: vv}
}

// victimResumes waits until the victim's open viewer receives an IDR that
// arrived after since, then a few more frames, and returns the IDR.
func (s *faultSetup) victimResumes(t *testing.T, since time.Time, timeout time.Duration) whepclient.AccessUnit {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case au := <-s.victim.Units():
			if !au.Received.After(since) || !h264.IsRandomAccess(au.NALUs) {
				continue
			}
			for i := 0; i < testcamera.FPS/2; i++ {
				nextUnit(t, s.victim, 2*time.Second)
			}
			return au
		case <-deadline:
			t.Fatalf("the victim's viewer got no fresh IDR within %s (peer state %s)", timeout, s.victim.State())
			return whepclient.AccessUnit{}
		}
	}
}

// finish checks what every fault test promises besides its own subject.
func (s *faultSetup) finish(t *testing.T) {
	t.Helper()
	s.d.requireHealthy(t)
	if st := s.d.camera(t, "other"); st.State != "streaming" || st.Reconnects != 0 {
		t.Errorf("the other camera is %s with %d reconnects, want streaming with none", st.State, st.Reconnects)
	}
	s.other.check(t, 1500*time.Millisecond)
}

func TestFaultCameraKilledAndBackRecoversAndLeavesOthersUntouched(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := startCamera(t, testcamera.Options{})
	addr := victim.Addr()
	s := startFaultSetup(t, victim.URL())

	victim.Close()
	s.d.waitState(t, "victim", "retrying", 5*time.Second)
	s.d.requireHealthy(t)

	back := time.Now()
	startCamera(t, testcamera.Options{Addr: addr})
	// Within the backoff window: the first retry comes after about 1 s.
	s.d.waitState(t, "victim", "streaming", 5*time.Second)
	s.victimResumes(t, back, 5*time.Second)
	if got := s.d.camera(t, "victim").Reconnects; got < 1 {
		t.Errorf("victim shows %d reconnects, want at least 1", got)
	}
	s.finish(t)
}

// buildTestCameraCommand builds cmd/testcamera into dir and returns the
// binary's path.
func buildTestCameraCommand(dir string) (string, error) {
	bin := filepath.Join(dir, "testcamera")
	// The go command that runs this test puts itself first in PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go build cmd/testcamera: %w", err)
	}
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/edgecam/edgecam/capture/testcamera/cmd/testcamera").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/testcamera: %w\n%s", err, out)
	}
	return bin, nil
}

// startCameraProcess runs the test camera as a separate process and returns
// it and its URL. The process is killed (after a SIGCONT, in case the test
// stopped it) when the test ends.
func startCameraProcess(t *testing.T) (*os.Process, string) {
	t.Helper()
	start := time.Now()
	bin, err := buildTestCameraCommand(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("testcamera command built in %s", time.Since(start).Round(time.Millisecond))

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-path", "/stream")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case u := <-lines:
		if !strings.HasPrefix(u, "rtsp://127.0.0.1:") {
			t.Fatalf("testcamera printed %q, want its rtsp:// URL", u)
		}
		return cmd.Process, u
	case <-time.After(10 * time.Second):
		t.Fatal("testcamera did not print its URL within 10s")
		return nil, ""
	}
}

func TestFaultHungCameraProcessRecoversAndLeavesOthersUntouched(t *testing.T) {
	checkGoroutinesReturn(t)
	proc, u := startCameraProcess(t)
	s := startFaultSetup(t, u)

	// SIGSTOP: the kernel keeps the TCP connection open, and nothing comes.
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// The read timeout is 2 s in these tests.
	got := s.d.waitState(t, "victim", "retrying", 8*time.Second)
	t.Logf("hung camera noticed after %s: %s", time.Since(stopped).Round(time.Millisecond), got.Error)
	s.d.requireHealthy(t)

	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	thawed := time.Now()
	// Backoff so far at most 1 s + 2 s (+20 %), plus one attempt stuck on the
	// frozen camera timing out.
	s.d.waitState(t, "victim", "streaming", 10*time.Second)
	t.Logf("recovered %s after SIGCONT", time.Since(thawed).Round(time.Millisecond))
	s.victimResumes(t, thawed, 5*time.Second)
	s.finish(t)
}

func TestFaultResolutionChangeReachesAPIAndViewer(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := startCamera(t, testcamera.Options{})
	s := startFaultSetup(t, victim.URL())

	for _, size := range []struct {
		low  bool
		w, h int
	}{
		{true, testcamera.LowWidth, testcamera.LowHeight},
		{false, testcamera.Width, testcamera.Height},
	} {
		switched := time.Now()
		victim.SetLowResolution(size.low)
		waitFor(t, 5*time.Second, "the API to show the new resolution", func() bool {
			c := s.d.camera(t, "victim")
			return c.Width == size.w && c.Height == size.h
		})
		au := s.victimResumes(t, switched, 5*time.Second)
		var sps h264.SPS
		if len(au.NALUs) == 0 || h264.NALUType(au.NALUs[0][0]&0x1f) != h264.NALUTypeSPS {
			t.Fatalf("IDR after the switch has NALU types %v, want SPS first", naluTypes(au.NALUs))
		}
		if err := sps.Unmarshal(au.NALUs[0]); err != nil {
			t.Fatal(err)
		}
		if sps.Width() != size.w || sps.Height() != size.h {
			t.Fatalf("viewer's SPS says %dx%d, want %dx%d", sps.Width(), sps.Height(), size.w, size.h)
		}
	}
	if c := s.d.camera(t, "victim"); c.State != "streaming" || c.Reconnects != 0 {
		t.Errorf("victim is %s with %d reconnects after resolution changes, want streaming without reconnecting", c.State, c.Reconnects)
	}
	s.finish(t)
}

func TestFaultGarbageAndTruncatedRTPKeepCameraStreaming(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := startCamera(t, testcamera.Options{})
	s := startFaultSetup(t, victim.URL())

	for _, fault := range []struct {
		name      string
		on, off   func()
		wantInLog string
	}{
		{"garbage payloads", func() { victim.SetGarbageEvery(4) }, func() { victim.SetGarbageEvery(0) }, "h264 frames dropped"},
		{"truncated NAL units", func() { victim.SetTruncateEvery(3) }, func() { victim.SetTruncateEvery(0) }, "h264 frames dropped"},
	} {
		fault.on()
		// The victim's viewer keeps getting whatever survives.
		got := 0
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
			nextUnit(t, s.victim, 2*time.Second)
			got++
		}
		fault.off()
		if got < testcamera.FPS/2 {
			t.Errorf("%s: the victim's viewer got %d frames in 2s, want at least %d", fault.name, got, testcamera.FPS/2)
		}
		healed := time.Now()
		s.victimResumes(t, healed, 5*time.Second)
		if c := s.d.camera(t, "victim"); c.State != "streaming" {
			t.Errorf("%s: victim is %s (%s), want streaming", fault.name, c.State, c.Error)
		}
		if !strings.Contains(s.d.logs.String(), fault.wantInLog) {
			t.Errorf("%s: the log does not say %q", fault.name, fault.wantInLog)
		}
		s.d.requireHealthy(t)
	}
	c := s.d.camera(t, "victim")
	if c.Width != testcamera.Width || c.Height != testcamera.Height {
		t.Errorf("victim shows %dx%d after the garbage, want %dx%d", c.Width, c.Height, testcamera.Width, testcamera.Height)
	}
	s.finish(t)
}

func TestFaultPacketLossAndJitterKeepCameraStreaming(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := startCamera(t, testcamera.Options{})
	s := startFaultSetup(t, victim.URL())

	victim.SetDropEvery(15)
	victim.SetJitter(30 * time.Millisecond)
	got := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		nextUnit(t, s.victim, 2*time.Second)
		got++
	}
	victim.SetDropEvery(0)
	victim.SetJitter(0)
	if got < testcamera.FPS {
		t.Errorf("the victim's viewer got %d frames in 3s of loss and jitter, want at least %d", got, testcamera.FPS)
	}
	s.victimResumes(t, time.Now(), 5*time.Second)
	if c := s.d.camera(t, "victim"); c.State != "streaming" || c.Reconnects != 0 {
		t.Errorf("victim is %s with %d reconnects, want streaming without reconnecting", c.State, c.Reconnects)
	}
	if !strings.Contains(s.d.logs.String(), "rtp packets lost") {
		t.Error(`the log does not say "rtp packets lost"`)
	}
	s.finish(t)
}
