package testcamera

import (
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Properties of the embedded clip. They are promised by mkclip.sh and checked
// against the clip's SPS by the tests, so code that consumes the test camera
// can assert on them without parsing anything.
const (
	// Width is the picture width of the clip in pixels.
	Width = 640
	// Height is the picture height of the clip in pixels.
	Height = 360
	// FPS is the frame rate the clip is encoded for and the camera sends at.
	FPS = 25
	// GOP is the distance between IDR frames, in frames (one second of video).
	GOP = 25
)

// clipData is the raw Annex-B clip made by mkclip.sh. It is the only
// package-level data; everything derived from it is computed once, on first
// use.
//
//go:embed clip.h264
var clipData []byte

// clip is the embedded clip split into access units.
type clip struct {
	h265 bool
	aus  [][][]byte // NALUs without start codes, sharing clipData's memory
	vps  []byte     // H.265 only
	sps  []byte
	pps  []byte
}

// parsedClip parses clipData on first use, so importing the package (e.g. by
// the daemon, which only needs the camera with --demo) costs nothing.
var parsedClip = sync.OnceValues(func() (*clip, error) {
	return parseClip(clipData, GOP, false)
})

// AccessUnits returns the clip as access units, each a list of NALUs without
// start codes, in decode (= presentation) order. The first access unit is an
// IDR preceded by SPS and PPS, and so is every GOP-th one. The result is a
// fresh copy, so callers (benchmarks, fuzzers) may modify it freely without
// corrupting what running cameras send.
func AccessUnits() [][][]byte {
	c, err := parsedClip()
	if err != nil {
		return nil
	}
	out := make([][][]byte, len(c.aus))
	for i, au := range c.aus {
		out[i] = make([][]byte, len(au))
		for j, nalu := range au {
			out[i][j] = append([]byte(nil), nalu...)
		}
	}
	return out
}

// Params returns copies of the clip's SPS and PPS NALUs (without start codes),
// the same bytes the camera announces in its SDP unless Options.InBandOnly is set.
func Params() (sps, pps []byte) {
	c, err := parsedClip()
	if err != nil {
		return nil, nil
	}
	return append([]byte(nil), c.sps...), append([]byte(nil), c.pps...)
}

// parseClip splits a whole Annex-B stream into access units and checks that it
// can be looped: it must start with an IDR and, when gop > 0, hold whole
// GOPs of gop frames.
// It does not use
// h264.AnnexB.Unmarshal because that parses a single access unit and caps the
// number of NALUs it accepts.
func parseClip(buf []byte, gop int, h265 bool) (*clip, error) {
	nalus := splitAnnexB(buf)
	if len(nalus) == 0 {
		return nil, errors.New("testcamera: clip contains no NAL units")
	}

	c := &clip{h265: h265}
	var cur [][]byte
	sawVCL := false
	for _, nalu := range nalus {
		k := kindOf(nalu, h265)
		if sawVCL && k.startsAU {
			c.aus = append(c.aus, cur)
			cur, sawVCL = nil, false
		}
		switch {
		case k.param == paramVPS && c.vps == nil:
			c.vps = nalu
		case k.param == paramSPS && c.sps == nil:
			c.sps = nalu
		case k.param == paramPPS && c.pps == nil:
			c.pps = nalu
		}
		if k.vcl {
			sawVCL = true
		}
		cur = append(cur, nalu)
	}
	if sawVCL {
		c.aus = append(c.aus, cur)
	}

	if c.sps == nil || c.pps == nil || (h265 && c.vps == nil) {
		return nil, errors.New("testcamera: clip has no parameter sets (SPS, PPS, and VPS for H.265)")
	}
	if len(c.aus) == 0 || !c.keyframe(c.aus[0]) {
		return nil, errors.New("testcamera: clip does not start with a keyframe, so it cannot be looped")
	}
	if gop > 0 && len(c.aus)%gop != 0 {
		return nil, fmt.Errorf("testcamera: clip has %d access units, not a whole number of %d-frame GOPs", len(c.aus), gop)
	}
	return c, nil
}

// keyframe reports whether au can start decoding.
func (c *clip) keyframe(au [][]byte) bool {
	if c.h265 {
		return h265.IsRandomAccess(au)
	}
	return h264.IsRandomAccess(au)
}

// splitAnnexB returns the NAL units of an Annex-B byte stream, without start
// codes. Slices share buf's memory.
func splitAnnexB(buf []byte) [][]byte {
	var nalus [][]byte
	start := -1 // offset of the current NALU's first byte, -1 before the first start code
	for i := 0; i+2 < len(buf); {
		if buf[i] != 0 || buf[i+1] != 0 || buf[i+2] != 1 {
			i++
			continue
		}
		if start >= 0 {
			nalus = appendNALU(nalus, buf[start:i])
		}
		i += 3
		start = i
	}
	if start >= 0 {
		nalus = appendNALU(nalus, buf[start:])
	}
	return nalus
}

// appendNALU appends nalu without its trailing zero bytes: they belong to the
// next 4-byte start code or are trailing_zero_8bits, never to the NALU (whose
// last byte always holds the RBSP stop bit).
func appendNALU(nalus [][]byte, nalu []byte) [][]byte {
	for len(nalu) > 0 && nalu[len(nalu)-1] == 0 {
		nalu = nalu[:len(nalu)-1]
	}
	if len(nalu) == 0 {
		return nalus
	}
	return append(nalus, nalu)
}

// isVCL reports whether typ is a coded slice, i.e. carries picture data.
func isVCL(typ h264.NALUType) bool {
	return typ >= h264.NALUTypeNonIDR && typ <= h264.NALUTypeIDR
}

// Parameter sets, as kindOf tells them.
const (
	paramNone = iota
	paramVPS
	paramSPS
	paramPPS
)

// naluKind is what splitting a clip into access units needs of a NAL unit.
type naluKind struct {
	vcl      bool // a coded slice
	startsAU bool // begins a new access unit when it follows a slice
	param    int
}

// kindOf classifies nalu. H.264 (ITU-T H.264 7.4.1.2.3): AUD, SPS, PPS,
// SEI and prefix types start an access unit, and so does a slice whose
// first_mb_in_slice is 0, the first ue(v) of its header, 0 exactly when the
// first bit after the NALU header is 1. H.265 (ITU-T H.265 7.4.2.4.4): VPS,
// SPS, PPS, AUD, prefix SEI and reserved types 41..44 and 48..55 do, and so
// does a slice whose first_slice_segment_in_pic_flag, the first bit after
// the two-byte header, is 1.
func kindOf(nalu []byte, h265 bool) naluKind {
	if h265 {
		typ := (nalu[0] >> 1) & 0x3f
		k := naluKind{vcl: typ < 32}
		switch {
		case k.vcl:
			k.startsAU = len(nalu) > 2 && nalu[2]&0x80 != 0
		case typ >= 32 && typ <= 35, typ == 39, typ >= 41 && typ <= 44, typ >= 48 && typ <= 55:
			k.startsAU = true
		}
		switch typ {
		case 32:
			k.param = paramVPS
		case 33:
			k.param = paramSPS
		case 34:
			k.param = paramPPS
		}
		return k
	}
	typ := h264.NALUType(nalu[0] & 0x1f)
	k := naluKind{vcl: isVCL(typ)}
	switch {
	case typ == h264.NALUTypeAccessUnitDelimiter, typ == h264.NALUTypeSPS,
		typ == h264.NALUTypePPS, typ == h264.NALUTypeSEI:
		k.startsAU = true
	case typ >= 14 && typ <= 18: // prefix NALU, subset SPS and reserved types
		k.startsAU = true
	case k.vcl:
		k.startsAU = len(nalu) > 1 && nalu[1]&0x80 != 0
	}
	switch typ {
	case h264.NALUTypeSPS:
		k.param = paramSPS
	case h264.NALUTypePPS:
		k.param = paramPPS
	}
	return k
}
