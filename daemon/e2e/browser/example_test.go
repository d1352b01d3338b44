//go:build browser

package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// examplePython finds a python3 on PATH that has what the examples need
// (Debian: python3-opencv python3-numpy python3-websocket): not always
// the first one, when a version manager's sits ahead of the system's. It
// skips the test without one, or fails it when CI=true.
func examplePython(t *testing.T) string {
	t.Helper()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		py := filepath.Join(dir, "python3")
		if _, err := os.Stat(py); err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := exec.CommandContext(ctx, py, "-c", "import cv2, numpy, websocket").Run()
		cancel()
		if err == nil {
			return py
		}
	}
	msg := "no python3 with OpenCV, numpy and websocket-client (Debian: apt-get install python3-opencv python3-numpy python3-websocket)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure, not a skip", msg)
	}
	t.Skip(msg)
	return ""
}

// The motion detector of examples/python, run as the README says, draws
// its boxes over the camera in the page: the test camera's picture moves,
// the example posts what moved, and the tile shows boxes of the "motion"
// model on its canvas.
func TestBrowserShowsTheExampleMotionDetectorsBoxes(t *testing.T) {
	examplePython(t)
	if !inTestNetns(t, "ffmpeg") {
		return
	}
	py := examplePython(t)
	script, err := filepath.Abs(filepath.Join("..", "..", "..", "examples", "python", "motion.py"))
	if err != nil {
		t.Fatal(err)
	}
	cam := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("demo", cam.URL()))
	d.WaitState(t, "demo", "streaming", 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script, "demo", "--url", d.URL)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		t.Logf("motion.py said:\n%s", out.String())
	}()

	b := startBrowser(t)
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/?overlaylog=1#/camera/demo"))
	b.waitTile(t, "demo", 15*time.Second, "live", func(v tileView) bool { return v.State == "live" })
	// Boxes of the motion model on the tile's canvas, and its name in the
	// caption.
	const drawn = `(() => {
	  const o = window.edgecamOverlays?.demo;
	  const boxes = o ? o.current().filter((d) => d.model === 'motion').flatMap((d) => d.objects).length : 0;
	  const canvas = document.querySelector('[data-camera="demo"] canvas.overlay');
	  let painted = 0;
	  if (canvas && canvas.width && canvas.height) {
	    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
	    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
	  }
	  const caption = document.querySelector('[data-camera="demo"] .models')?.textContent ?? '';
	  return {boxes, painted, caption};
	})()`
	type view struct {
		Boxes   int    `json:"boxes"`
		Painted int    `json:"painted"`
		Caption string `json:"caption"`
	}
	var v view
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		v = evalIn[view](t, b, drawn)
		if v.Boxes > 0 && v.Painted > 0 && strings.HasPrefix(v.Caption, "motion") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no motion boxes drawn within 30 s: %+v", v)
		}
	}
	t.Logf("drawn: %d boxes, %d pixels painted, caption %q", v.Boxes, v.Painted, v.Caption)
	if st := d.Camera(t, "demo").Detections; st == nil || st.Model != "motion" {
		t.Errorf("/api/cameras/demo detections %+v, want the motion model's", st)
	}
	b.noConsoleProblems(t)
}
