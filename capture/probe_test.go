package capture

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/hevc"
)

// makeClip encodes a short clip with ffmpeg and libx264.
func makeClip(t *testing.T, gop int, bframes int) []byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg)")
	}
	out := filepath.Join(t.TempDir(), "clip.h264")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=320x240:rate=25", "-frames:v", strconv.Itoa(2*gop), "-pix_fmt", "yuv420p",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", strconv.Itoa(bframes),
		"-x264-params", "keyint="+strconv.Itoa(gop)+":min-keyint="+strconv.Itoa(gop)+":scenecut=0:repeat-headers=1",
		"-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProbeReportsTheFactsOfTheTestCamera(t *testing.T) {
	t.Parallel()
	cam, err := testcamera.Start(testcamera.Options{User: "admin", Pass: "pr0be-pass"})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := Probe(ctx, cam.URL(), TransportTCP, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Width != testcamera.Width || r.Height != testcamera.Height || r.FPS < 24 || r.FPS > 26 {
		t.Errorf("size/fps %dx%d %.1f", r.Width, r.Height, r.FPS)
	}
	if r.GOPFrames != testcamera.GOP || r.KeyframeInterval != time.Second {
		t.Errorf("keyframe interval %s (%d frames), want 1s (25)", r.KeyframeInterval, r.GOPFrames)
	}
	if r.BFrames || !r.Forwardable || r.Profile != "Main" || r.Transport != "tcp" || r.Bitrate <= 0 {
		t.Errorf("result %+v", r)
	}
	if strings.Contains(r.URL, "pr0be-pass") {
		t.Errorf("URL not redacted: %s", r.URL)
	}
}

func TestProbeFlagsBFramesAndLongGOP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gop, bf   int
		forward   bool
		problem   string
		wantBFrms bool
	}{
		{"b-frames", 25, 2, false, "B-frames", true},
		{"long gop", 100, 0, true, "keyframe interval 4s", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // a long GOP takes seconds to measure
			cam, err := testcamera.Start(testcamera.Options{Clip: makeClip(t, tc.gop, tc.bf)})
			if err != nil {
				t.Fatal(err)
			}
			defer cam.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r, err := Probe(ctx, cam.URL(), TransportTCP, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.BFrames != tc.wantBFrms || r.Forwardable != tc.forward || !strings.Contains(strings.Join(r.Problems, "\n"), tc.problem) {
				t.Fatalf("result %+v", r)
			}
		})
	}
}

func TestProbeOfMJPEGCameraSaysWhy(t *testing.T) {
	cam, err := testcamera.Start(testcamera.Options{Codec: "mjpeg"})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	r, err := Probe(context.Background(), cam.URL(), TransportTCP, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Forwardable || len(r.Problems) == 0 || !strings.Contains(r.Problems[0], "M-JPEG") || r.Tracks[0] != "video M-JPEG" {
		t.Fatalf("result %+v", r)
	}
}

func TestProbeOfH265CameraReportsItsStream(t *testing.T) {
	cam, err := testcamera.Start(testcamera.Options{Codec: "h265", Clip: hevc.Clip()})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	r, err := Probe(context.Background(), cam.URL(), TransportTCP, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Forwardable || r.Codec != CodecH265 || r.Profile != "Main" || r.Width != hevc.Width || r.Height != hevc.Height ||
		r.GOPFrames != hevc.GOP || r.BFrames {
		t.Fatalf("result %+v", r)
	}
}
