package frames

import (
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/hevc"
	"github.com/edgecam/edgecam/stream"
)

// An H.265 camera gives JPEGs and raw pictures exactly as an H.264 one,
// and a camera reconfigured from H.264 to H.265 keeps giving them: the
// decoder restarts for the new codec.
func TestH265CameraGivesPicturesAndSurvivesACodecSwitch(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	cam, err := testcamera.Start(testcamera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := stream.New("h265", stream.Options{})
	t.Cleanup(st.Close)
	pull(t, st, cam.URL())
	h := startHub(t, st, Settings{})
	jpg := subscribe(t, h, Variant{Width: 320})
	gray := subscribe(t, h, Variant{Format: FormatGray, Width: 160})

	f := next(t, jpg, 0, 10*time.Second)
	checkJPEG(t, f, 320, 180)

	// The camera is reconfigured to H.265: a new RTSP session on the same
	// address.
	addr := cam.Addr()
	cam.Close()
	cam, err = testcamera.Start(testcamera.Options{Addr: addr, Codec: "h265", Clip: hevc.Clip()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	for deadline := time.Now().Add(10 * time.Second); st.Codec() != capture.CodecH265; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stream is not H.265 10 s after the camera switched")
		}
	}
	seq := f.Seq
	for range 3 {
		f = next(t, jpg, seq, 10*time.Second)
		seq = f.Seq
	}
	checkJPEG(t, f, 320, 180)
	if !f.Source {
		t.Error("an H.265 picture does not say which access unit it came from")
	}
	g := next(t, gray, 0, 10*time.Second)
	var gseq uint64
	for range 3 {
		g = next(t, gray, gseq, 10*time.Second)
		gseq = g.Seq
	}
	if g.Width != 160 || g.Height != 90 || len(g.Data) != 160*90 {
		t.Errorf("gray picture %dx%d, %d bytes; want 160x90, %d bytes", g.Width, g.Height, len(g.Data), 160*90)
	}
}
