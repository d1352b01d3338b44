//go:build fault

package fault

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
	"github.com/edgecam/edgecam/daemon/daemontest"
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

// requireHealthy fails the test unless the daemon answers /healthz.
func requireHealthy(t *testing.T, d *daemontest.Daemon) {
	t.Helper()
	if code, _ := daemontest.Get(t, d.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: status %d", code)
	}
}

// faultSetup is a daemon with two cameras, "other" and "victim", a viewer on
// each, and the other viewer watched for gaps.
type faultSetup struct {
	d      *daemontest.Daemon
	other  *frameWatch
	victim *whepclient.Client
}

// startFaultSetup starts the daemon for a victim camera at victimURL and
// waits until both viewers play.
func startFaultSetup(t *testing.T, victimURL string) *faultSetup {
	t.Helper()
	other := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("other", other.URL()), daemontest.Camera("victim", victimURL))
	d.WaitState(t, "other", "streaming", 10*time.Second)
	d.WaitState(t, "victim", "streaming", 10*time.Second)
	vo := d.Dial(t, "other")
	daemontest.NextUnit(t, vo, 10*time.Second)
	vv := d.Dial(t, "victim")
	daemontest.NextUnit(t, vv, 10*time.Second)
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
				daemontest.NextUnit(t, s.victim, 2*time.Second)
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
	requireHealthy(t, s.d)
	if st := s.d.Camera(t, "other"); st.State != "streaming" || st.Reconnects != 0 {
		t.Errorf("the other camera is %s with %d reconnects, want streaming with none", st.State, st.Reconnects)
	}
	s.other.check(t, 1500*time.Millisecond)
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
