package testcamera

import (
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
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
	aus [][][]byte // NALUs without start codes, sharing clipData's memory
	sps []byte
	pps []byte
}

// parsedClip parses clipData on first use, so importing the package (e.g. by
// the daemon, which only needs the camera with --demo) costs nothing.
var parsedClip = sync.OnceValues(func() (*clip, error) {
	return parseClip(clipData, GOP)
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
func parseClip(buf []byte, gop int) (*clip, error) {
	nalus := splitAnnexB(buf)
	if len(nalus) == 0 {
		return nil, errors.New("testcamera: clip contains no NAL units")
	}

	c := &clip{}
	var cur [][]byte
	sawVCL := false
	for _, nalu := range nalus {
		typ := h264.NALUType(nalu[0] & 0x1f)
		if sawVCL && startsAccessUnit(typ, nalu) {
			c.aus = append(c.aus, cur)
			cur, sawVCL = nil, false
		}
		switch typ {
		case h264.NALUTypeSPS:
			if c.sps == nil {
				c.sps = nalu
			}
		case h264.NALUTypePPS:
			if c.pps == nil {
				c.pps = nalu
			}
		}
		if isVCL(typ) {
			sawVCL = true
		}
		cur = append(cur, nalu)
	}
	if sawVCL {
		c.aus = append(c.aus, cur)
	}

	if c.sps == nil || c.pps == nil {
		return nil, errors.New("testcamera: clip has no SPS or PPS")
	}
	if len(c.aus) == 0 || !h264.IsRandomAccess(c.aus[0]) {
		return nil, errors.New("testcamera: clip does not start with an IDR, so it cannot be looped")
	}
	if gop > 0 && len(c.aus)%gop != 0 {
		return nil, fmt.Errorf("testcamera: clip has %d access units, not a whole number of %d-frame GOPs", len(c.aus), gop)
	}
	return c, nil
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

// startsAccessUnit reports whether nalu, following a VCL NALU, begins a new
// access unit (ITU-T H.264 7.4.1.2.3): AUD, SPS, PPS, SEI and prefix types do,
// and so does a slice whose first_mb_in_slice is 0. first_mb_in_slice is the
// first ue(v) of the slice header, and it is 0 exactly when the first bit after
// the NALU header is 1.
func startsAccessUnit(typ h264.NALUType, nalu []byte) bool {
	switch {
	case typ == h264.NALUTypeAccessUnitDelimiter, typ == h264.NALUTypeSPS,
		typ == h264.NALUTypePPS, typ == h264.NALUTypeSEI:
		return true
	case typ >= 14 && typ <= 18: // prefix NALU, subset SPS and reserved types
		return true
	case isVCL(typ):
		return len(nalu) > 1 && nalu[1]&0x80 != 0
	}
	return false
}
