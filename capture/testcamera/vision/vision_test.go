package vision_test

import (
	"os/exec"
	"testing"

	"github.com/edgecam/edgecam/capture/testcamera/vision"
)

// The clip decodes to pictures that say their own frame number and show
// the marker where MarkerAt puts it.
func TestClipShowsFrameNumbersAndTheMarker(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "h264", "-i", "pipe:0",
		"-vf", "scale=320:180", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		stdin.Write(vision.Clip())
		stdin.Close()
	}()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 320, 180
	n := len(out) / (w * h)
	if n != vision.Frames {
		t.Fatalf("%d pictures, want %d", n, vision.Frames)
	}
	for i := range n {
		p := vision.Picture{Pix: out[i*w*h : (i+1)*w*h], Width: w, Height: h, Stride: w, BytesPerPixel: 1}
		if got := p.FrameNumber(); got != i {
			t.Fatalf("picture %d says frame %d", i, got)
		}
		m, ok := p.Marker()
		want := vision.MarkerAt(i)
		if !ok || abs(m.Min.X-want.Min.X) > 4 || abs(m.Max.X-want.Max.X) > 4 {
			t.Fatalf("picture %d: marker at %v (found %v), want %v", i, m, ok, want)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
