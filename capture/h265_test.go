package capture

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/hevc"
)

// unitRecorder is a Sink that keeps copies of the first units it is given.
type unitRecorder struct {
	mu    sync.Mutex
	units []AccessUnit
}

func (s *unitRecorder) WriteAccessUnit(au *AccessUnit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.units) >= 60 {
		return
	}
	c := *au
	c.NALUs = nil
	for _, n := range au.NALUs {
		c.NALUs = append(c.NALUs, append([]byte(nil), n...))
	}
	s.units = append(s.units, c)
}

func (s *unitRecorder) recorded() []AccessUnit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AccessUnit(nil), s.units...)
}

// An H.265 camera streams whether its parameter sets come in the SDP, in
// band, or both: every keyframe reaches the sink with VPS, SPS and PPS in
// front, and the status reports the codec and the picture size.
func TestH265CameraStreamsWithParameterSetsBeforeEveryKeyframe(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts testcamera.Options
	}{
		{"in the SDP and in band", testcamera.Options{}},
		{"in the SDP only", testcamera.Options{NoInBandParams: true}},
		{"in band only", testcamera.Options{InBandOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Codec, tc.opts.Clip = "h265", hevc.Clip()
			cam := startTestCamera(t, tc.opts)
			sink := &unitRecorder{}
			c := New(Config{Name: "press-1", URL: cam.URL(), Transport: TransportTCP}, sink, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = c.Run(ctx) }()
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Error("Run did not return within 5 s of its context ending")
				}
			}()

			s := waitStatus(t, c, 10*time.Second, "two keyframes", func(Status) bool {
				idrs := 0
				for _, u := range sink.recorded() {
					if u.IDR {
						idrs++
					}
				}
				return idrs >= 2
			})
			if s.Codec != CodecH265 || s.Width != hevc.Width || s.Height != hevc.Height {
				t.Errorf("status says %s %dx%d, want H265 %dx%d", s.Codec, s.Width, s.Height, hevc.Width, hevc.Height)
			}
			units := sink.recorded()
			if !units[0].IDR {
				t.Error("the first unit delivered is not a keyframe")
			}
			p := newParamSet265(nil, nil, nil)
			for i, u := range units {
				if u.Codec != CodecH265 {
					t.Fatalf("unit %d: codec %q, want H265", i, u.Codec)
				}
				if u.IDR && !p.leads(u.NALUs) {
					t.Fatalf("unit %d: a keyframe without VPS, SPS and PPS in front", i)
				}
			}
		})
	}
}

// A camera offering both codecs is pulled in H.264 unless the
// configuration asks for H.265; one offering only the other codec than the
// configured one is unsupported, and says which it offers.
func TestPickTrackPrefersH264UnlessConfigured(t *testing.T) {
	h264Media := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}}
	h265Media := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H265{PayloadTyp: 97}}}
	both := &description.Session{Medias: []*description.Media{h265Media, h264Media}}
	only265 := &description.Session{Medias: []*description.Media{h265Media}}
	for _, tc := range []struct {
		name string
		desc *description.Session
		want Codec
		got  Codec // empty: unsupported
	}{
		{"both, auto", both, CodecAuto, CodecH264},
		{"both, h264", both, CodecH264, CodecH264},
		{"both, h265", both, CodecH265, CodecH265},
		{"only h265, auto", only265, CodecAuto, CodecH265},
		{"only h265, h264 configured", only265, CodecH264, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := pickTrack(tc.desc, tc.want)
			if tc.got == "" {
				var u *UnsupportedCodecError
				if !errors.As(err, &u) || u.Want != tc.want {
					t.Fatalf("err = %v, want an UnsupportedCodecError naming %s", err, tc.want)
				}
				return
			}
			if err != nil || tr.codec != tc.got {
				t.Fatalf("picked %v (err %v), want %s", tr, err, tc.got)
			}
		})
	}
}

// An H.265 camera with B-frames is warned about as an H.264 one is: the
// browsers' WebRTC decoders do not reorder frames.
func TestH265CameraWithBFramesIsWarnedAbout(t *testing.T) {
	t.Parallel()
	clip := filepath.Join(t.TempDir(), "bframes.h265")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "50", "-pix_fmt", "yuv420p",
		"-c:v", "libx265", "-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=2:open-gop=0:repeat-headers=1",
		"-f", "hevc", clip).CombinedOutput()
	if err != nil {
		t.Skipf("cannot make an H.265 clip with ffmpeg's libx265 (%v): %s", err, out)
	}
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	cam := startTestCamera(t, testcamera.Options{Codec: "h265", Clip: data})
	c, _, _ := runCamera(t, Config{Name: "press-1", URL: cam.URL(), Transport: TransportTCP})
	s := waitStatus(t, c, 10*time.Second, "streaming with the B-frames warning", func(s Status) bool {
		return s.State == StateStreaming && len(s.Warnings) > 0
	})
	if !s.BFrames || !strings.Contains(s.Warnings[0], "B-frames") {
		t.Fatalf("B-frames %v, warnings %q", s.BFrames, s.Warnings)
	}
}
