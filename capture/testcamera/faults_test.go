package testcamera

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera/lowres"
)

func TestLowResolutionClipMatchesDeclaredProperties(t *testing.T) {
	c, err := parseClip(lowres.Clip(), lowres.GOP, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.aus)%GOP != 0 || !h264.IsRandomAccess(c.aus[0]) || !hasParams(c.aus[0]) {
		t.Fatalf("low clip: %d access units, first random access %v; want whole GOPs starting with SPS, PPS, IDR",
			len(c.aus), h264.IsRandomAccess(c.aus[0]))
	}
	var s h264.SPS
	if err := s.Unmarshal(c.sps); err != nil {
		t.Fatal(err)
	}
	if s.Width() != lowres.Width || s.Height() != lowres.Height || s.FPS() != lowres.FPS || lowres.FPS != FPS {
		t.Errorf("low clip SPS says %dx%d at %v fps, want %dx%d at %d", s.Width(), s.Height(), s.FPS(), lowres.Width, lowres.Height, FPS)
	}
	if n := len(lowres.Clip()); n > 100<<10 {
		t.Errorf("low clip is %d bytes, keep it under 100 KB", n)
	}
}

func TestSetClipChangesSPSInBandAndInSDP(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{})
	if err := cam.SetClip(lowres.Clip()); err != nil {
		t.Fatal(err)
	}
	p := mustPlay(t, cam.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "an in-band SPS", func() bool { return p.stats().inBandSPS != nil })
	for name, sps := range map[string][]byte{"in-band": p.stats().inBandSPS, "SDP": sdpSPS(p.forma)} {
		var s h264.SPS
		if err := s.Unmarshal(sps); err != nil {
			t.Fatalf("%s SPS: %v", name, err)
		}
		if s.Width() != lowres.Width || s.Height() != lowres.Height {
			t.Errorf("%s SPS says %dx%d after SetClip, want %dx%d", name, s.Width(), s.Height(), lowres.Width, lowres.Height)
		}
	}
	if st := p.stats(); st.decodeErrs != 0 || st.ptsNotIncreasing != 0 {
		t.Errorf("decode errors %d, non-increasing PTS %d; want none", st.decodeErrs, st.ptsNotIncreasing)
	}
}

func sdpSPS(f *format.H264) []byte {
	sps, _ := f.SafeParams()
	return sps
}

func TestGarbageAndTruncatedPacketsCauseDecodeErrorsButStreamGoesOn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  func(*Camera)
	}{
		{"garbage", func(c *Camera) { c.SetGarbageEvery(5) }},
		{"truncated", func(c *Camera) { c.SetTruncateEvery(3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cam := startCamera(t, Options{})
			tc.set(cam)
			p := mustPlay(t, cam.URL(), gortsplib.TransportTCP)
			waitFor(t, 5*time.Second, "decode errors and further access units", func() bool {
				st := p.stats()
				return st.decodeErrs > 0 && st.aus > 10
			})
		})
	}
}

func TestSetJitterKeepsFrameRateAndOrder(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{})
	cam.SetJitter(time.Second) // capped below one frame period
	p := mustPlay(t, cam.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "session counted as playing", func() bool { return cam.SessionCount() == 1 })
	time.Sleep(2 * time.Second)
	st := p.stats()
	if st.aus < 20 || st.aus > 80 {
		t.Errorf("received %d access units in 2 s with jitter, want about 50", st.aus)
	}
	if st.decodeErrs != 0 || st.seqGaps != 0 || st.ptsNotIncreasing != 0 {
		t.Errorf("decode errors %d, sequence gaps %d, non-increasing PTS %d; want none", st.decodeErrs, st.seqGaps, st.ptsNotIncreasing)
	}
}
