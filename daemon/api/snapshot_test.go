package api_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera/vision"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/daemon/detections"
)

// near tells whether a pixel is within a JPEG's error of a color.
func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) int { return max(int(a>>8)-int(b), int(b)-int(a>>8)) }
	return d(r, want.R) < 60 && d(g, want.G) < 60 && d(b, want.B) < 60
}

func rgb(c color.Color) color.RGBA { return color.RGBAModel.Convert(c).(color.RGBA) }

// A snapshot with overlay=detections has the boxes of its own frame burnt
// in: the box is drawn around the marker where it is in that picture, not
// where it was a frame earlier.
func TestSnapshotBurnsInTheDetectionsOfItsFrame(t *testing.T) {
	d := visionDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	daemontest.RunMarkerDetector(ctx, t, d.URL, "line-1", "format=gray&fps=25")
	deadline := time.Now().Add(10 * time.Second)
	for d.Camera(t, "line-1").Detections == nil || d.Camera(t, "line-1").Detections.PerSecond < 5 {
		if time.Now().After(deadline) {
			t.Fatal("the detector's messages did not arrive")
		}
		time.Sleep(100 * time.Millisecond)
	}

	boxColor := detections.ColorOf("marker")
	for i := range 5 {
		resp, err := daemontest.Client().Get(d.URL + "/cameras/line-1/snapshot.jpg?overlay=detections")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("snapshot: %d %s", resp.StatusCode, b)
		}
		if _, err := strconv.ParseUint(resp.Header.Get("X-Edgecam-PTS"), 10, 32); err != nil {
			t.Errorf("X-Edgecam-PTS %q: %v", resp.Header.Get("X-Edgecam-PTS"), err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		gray := image.NewGray(img.Bounds())
		for y := range vision.Height {
			for x := range vision.Width {
				gray.Set(x, y, img.At(x, y))
			}
		}
		n := vision.Picture{Pix: gray.Pix, Width: vision.Width, Height: vision.Height, Stride: gray.Stride, BytesPerPixel: 1}.FrameNumber()
		m := vision.MarkerAt(n)
		mid := (m.Min.Y + m.Max.Y) / 2
		left := img.At(m.Min.X, mid)
		early := vision.MarkerAt(n - 1).Min.X
		if m.Min.X < early || !near(left, boxColor) || near(img.At(early, mid), boxColor) {
			// The marker wraps; a frame at the wrap cannot tell.
			if m.Min.X >= early {
				t.Errorf("snapshot %d (frame %d, marker at x=%d): pixel at the marker's left edge is %v, want the box's %v; at x=%d (a frame earlier) %v",
					i, n, m.Min.X, rgb(left), boxColor, early, rgb(img.At(early, mid)))
			}
		}
		if !near(img.At(m.Min.X+m.Dx()/2, mid), color.RGBA{255, 255, 255, 255}) {
			t.Errorf("snapshot %d: the inside of the box is painted over", i)
		}
	}
}
