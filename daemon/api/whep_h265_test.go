package api_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/hevc"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// h265Types lists the H.265 NALU types of an access unit.
func h265Types(au [][]byte) []h265.NALUType {
	var out []h265.NALUType
	for _, n := range au {
		out = append(out, h265.NALUType(n[0]>>1&0x3f))
	}
	return out
}

// A viewer whose offer includes H.265 gets an H.265 camera's stream
// untouched: it starts at once with the cached keyframe, VPS, SPS and PPS
// in front, and every picture is the camera's, its slices byte for byte,
// wherever the camera put its parameter sets.
func TestViewerReceivesCameraH265OverWHEPBitExact(t *testing.T) {
	clip := map[string]bool{}
	for _, au := range splitH265(t, hevc.Clip()) {
		clip[string(bytes.Join(slices(au), []byte{0, 0, 0, 1}))] = true
	}
	for _, tc := range []struct {
		name string
		opts testcamera.Options
	}{
		{"params in SDP and in-band", testcamera.Options{}},
		{"params only in-band", testcamera.Options{InBandOnly: true}},
		{"params only in SDP", testcamera.Options{NoInBandParams: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Codec, tc.opts.Clip = "h265", hevc.Clip()
			c := daemontest.StartCamera(t, tc.opts)
			d := daemontest.Start(t, nil, daemontest.Camera("gate", c.URL()))
			if got := d.WaitState(t, "gate", "streaming", 10*time.Second); got.Codec != "H265" {
				t.Fatalf("API says codec %q, want H265", got.Codec)
			}
			posted := time.Now()
			v := d.Dial(t, "gate")
			first := daemontest.NextUnit(t, v, 10*time.Second)
			t.Logf("first picture %s after the WHEP POST", time.Since(posted).Round(time.Millisecond))
			types := h265Types(first.NALUs)
			if first.Codec != webrtc.MimeTypeH265 || len(types) < 4 || types[0] != h265.NALUType_VPS_NUT ||
				types[1] != h265.NALUType_SPS_NUT || types[2] != h265.NALUType_PPS_NUT || !h265.IsRandomAccess(first.NALUs) {
				t.Fatalf("first access unit %s with NALU types %v, want VPS, SPS, PPS, IDR", first.Codec, types)
			}
			for i := range 2 * hevc.GOP {
				au := first
				if i > 0 {
					au = daemontest.NextUnit(t, v, 3*time.Second)
				}
				if !clip[string(bytes.Join(slices(au.NALUs), []byte{0, 0, 0, 1}))] {
					t.Fatalf("access unit %d (%v) is not one of the clip's", i, h265Types(au.NALUs))
				}
			}
		})
	}
}

// slices are the coded slices of an access unit, its picture: the
// parameter sets are put before every keyframe by the daemon whether or not
// the camera sent them in band, and an SEI may be cut off when a session
// starts in the middle of a unit.
func slices(au [][]byte) [][]byte {
	var out [][]byte
	for _, n := range au {
		if h265.NALUType(n[0]>>1&0x3f) < h265.NALUType_VPS_NUT {
			out = append(out, n)
		}
	}
	return out
}

// splitH265 splits the clip into access units without parameter sets.
func splitH265(t *testing.T, clip []byte) [][][]byte {
	t.Helper()
	aus := [][][]byte{nil}
	sawVCL := false
	for _, n := range bytes.Split(clip, []byte{0, 0, 1}) {
		n = bytes.TrimRight(n, "\x00")
		if len(n) < 2 {
			continue
		}
		typ := h265.NALUType(n[0] >> 1 & 0x3f)
		if typ >= h265.NALUType_VPS_NUT && typ <= h265.NALUType_PPS_NUT {
			continue
		}
		vcl := typ < h265.NALUType_VPS_NUT
		// A prefix SEI or a first slice after a slice starts the next unit.
		if sawVCL && (typ == h265.NALUType_PREFIX_SEI_NUT || vcl && len(n) > 2 && n[2]&0x80 != 0) {
			aus = append(aus, nil)
			sawVCL = false
		}
		sawVCL = sawVCL || vcl
		aus[len(aus)-1] = append(aus[len(aus)-1], n)
	}
	if len(aus) != 2*hevc.GOP {
		t.Fatalf("split the clip into %d access units, want %d", len(aus), 2*hevc.GOP)
	}
	return aus
}

// A viewer that cannot take H.265 (Chromium without an H.265 WebRTC
// decoder) is refused with 406 and a reason the page shows; the JPEG
// stream of the same camera works.
func TestViewerWithoutH265IsToldWhy(t *testing.T) {
	t.Parallel()
	daemontest.NeedFFmpeg(t)
	c := daemontest.StartCamera(t, testcamera.Options{Codec: "h265", Clip: hevc.Clip()})
	d := daemontest.Start(t, nil, daemontest.Camera("gate", c.URL()))
	d.WaitState(t, "gate", "streaming", 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := whepclient.Dial(ctx, d.URL+"/cameras/gate/whep", whepclient.Options{Interfaces: []string{"lo"}, Codecs: []string{webrtc.MimeTypeH264}})
	var se *whepclient.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotAcceptable || !strings.Contains(se.Body, "H.265: this browser cannot play it over WebRTC") {
		if v != nil {
			v.Close()
		}
		t.Fatalf("WHEP without H.265: %v, want 406 saying why", err)
	}
	code, body := daemontest.Get(t, d.URL+"/cameras/gate/snapshot.jpg")
	if code != http.StatusOK || !bytes.HasPrefix(body, []byte{0xff, 0xd8}) {
		t.Fatalf("snapshot of the H.265 camera: %d, %d bytes", code, len(body))
	}
	if n := d.WebRTCSessions(); n != 0 {
		t.Fatalf("%d WebRTC sessions left after the refusal", n)
	}
}
