package capture

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// track is the video track a session pulls.
type track struct {
	media  *description.Media
	format format.Format
	codec  Codec
}

// pickTrack chooses the video track to pull: the codec asked for, or with
// CodecAuto H.264 when the camera offers it (every browser plays it over
// WebRTC) and else H.265.
func pickTrack(desc *description.Session, want Codec) (*track, error) {
	var f264 *format.H264
	m264 := desc.FindFormat(&f264)
	var f265 *format.H265
	m265 := desc.FindFormat(&f265)
	switch {
	case m264 != nil && want != CodecH265:
		if f264.PacketizationMode >= 2 {
			return nil, fmt.Errorf("h264 packetization-mode %d is not supported", f264.PacketizationMode)
		}
		return &track{media: m264, format: f264, codec: CodecH264}, nil
	case m265 != nil && want != CodecH264:
		if f265.MaxDONDiff != 0 {
			return nil, fmt.Errorf("h265 with decoding order numbers (sprop-max-don-diff %d) is not supported", f265.MaxDONDiff)
		}
		return &track{media: m265, format: f265, codec: CodecH265}, nil
	}
	return nil, &UnsupportedCodecError{Offered: offeredCodecs(desc), Want: want}
}

// params returns the parameter sets the SDP announced.
func (t *track) params() *paramSet {
	if f, ok := t.format.(*format.H265); ok {
		return newParamSet265(f.SafeParams())
	}
	return newParamSet(t.format.(*format.H264).SafeParams())
}

// naluDecoder turns RTP packets into access units: see depacketizer.
type naluDecoder interface {
	decode(pkt *rtp.Packet) ([][]byte, error)
}

// newDecoder returns the depacketizer of the track's codec.
func (t *track) newDecoder() (naluDecoder, error) {
	if t.codec == CodecH265 {
		d := &rtph265.Decoder{}
		if err := d.Init(); err != nil {
			return nil, err
		}
		return h265Decoder{d}, nil
	}
	return &unitDecoder{}, nil
}

// h265Decoder is gortsplib's H.265 decoder, which allocates each access
// unit; H.265 cameras are few next to H.264 ones, so edgecam's own
// allocation-free depacketizer covers only H.264.
type h265Decoder struct{ dec *rtph265.Decoder }

func (d h265Decoder) decode(pkt *rtp.Packet) ([][]byte, error) {
	nalus, err := d.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph265.ErrMorePacketsNeeded):
		return nil, errMorePacketsNeeded
	case errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious):
		return nil, errNonStartingNoPrevious
	}
	return nalus, err
}

// paramSet tracks the current parameter sets of a session: SPS and PPS of
// H.264, VPS, SPS and PPS of H.265.
type paramSet struct {
	codec         Codec
	vps, sps, pps []byte
	width, height int
	reorders      bool // the SPS allows B-frames (reordering)
}

// newParamSet returns the parameters of an H.264 session.
func newParamSet(sps, pps []byte) *paramSet {
	p := &paramSet{codec: CodecH264}
	if len(sps) > 0 {
		p.setSPS(sps)
	}
	p.setPPS(pps)
	return p
}

// newParamSet265 returns the parameters of an H.265 session.
func newParamSet265(vps, sps, pps []byte) *paramSet {
	p := &paramSet{codec: CodecH265}
	p.setVPS(vps)
	if len(sps) > 0 {
		p.setSPS(sps)
	}
	p.setPPS(pps)
	return p
}

// Kinds of NAL unit the reader tells apart, whatever the codec.
const (
	naluOther = iota
	naluVPS
	naluSPS
	naluPPS
	naluKey // an H.264 IDR slice, an H.265 IRAP slice
)

// kind classifies a NAL unit of the set's codec.
func (p *paramSet) kind(n []byte) int {
	if len(n) == 0 {
		return naluOther
	}
	if p.codec == CodecH265 {
		switch t := h265.NALUType((n[0] >> 1) & 0x3f); {
		case t == h265.NALUType_VPS_NUT:
			return naluVPS
		case t == h265.NALUType_SPS_NUT:
			return naluSPS
		case t == h265.NALUType_PPS_NUT:
			return naluPPS
		case t >= h265.NALUType_BLA_W_LP && t <= h265.NALUType_CRA_NUT:
			return naluKey
		}
		return naluOther
	}
	switch h264.NALUType(n[0] & 0x1f) {
	case h264.NALUTypeSPS:
		return naluSPS
	case h264.NALUTypePPS:
		return naluPPS
	case h264.NALUTypeIDR:
		return naluKey
	}
	return naluOther
}

// scan takes in the parameter sets among nalus and reports whether they
// hold a keyframe and whether the SPS changed.
func (p *paramSet) scan(nalus [][]byte) (idr, spsChanged bool) {
	for _, n := range nalus {
		switch p.kind(n) {
		case naluVPS:
			p.setVPS(n)
		case naluSPS:
			spsChanged = p.setSPS(n) || spsChanged
		case naluPPS:
			p.setPPS(n)
		case naluKey:
			idr = true
		}
	}
	return idr, spsChanged
}

// complete reports whether a keyframe can be decoded with the parameters
// known so far.
func (p *paramSet) complete() bool {
	return p.sps != nil && p.pps != nil && (p.codec != CodecH265 || p.vps != nil)
}

// leads reports whether nalus begins with the parameter sets, which is what
// Sink promises for every keyframe.
func (p *paramSet) leads(nalus [][]byte) bool {
	want := []int{naluSPS, naluPPS}
	if p.codec == CodecH265 {
		want = []int{naluVPS, naluSPS, naluPPS}
	}
	if len(nalus) < len(want) {
		return false
	}
	for i, k := range want {
		if p.kind(nalus[i]) != k {
			return false
		}
	}
	return true
}

// prepend appends to dst the parameter sets, then the NALUs of nalus that
// are not parameter sets, and returns the result.
func (p *paramSet) prepend(dst, nalus [][]byte) [][]byte {
	if p.codec == CodecH265 {
		dst = append(dst, p.vps)
	}
	dst = append(dst, p.sps, p.pps)
	for _, n := range nalus {
		if k := p.kind(n); len(n) > 0 && k != naluVPS && k != naluSPS && k != naluPPS {
			dst = append(dst, n)
		}
	}
	return dst
}

// setSPS stores a copy of sps and reports whether it changed.
func (p *paramSet) setSPS(sps []byte) bool {
	if bytes.Equal(p.sps, sps) {
		return false
	}
	p.sps = bytes.Clone(sps)
	if p.codec == CodecH265 {
		var s h265.SPS
		if err := s.Unmarshal(p.sps); err == nil {
			p.width, p.height = s.Width(), s.Height()
			p.reorders = len(s.MaxNumReorderPics) > 0 && s.MaxNumReorderPics[len(s.MaxNumReorderPics)-1] > 0
		}
		return true
	}
	var s h264.SPS
	if err := s.Unmarshal(p.sps); err == nil {
		p.width, p.height = s.Width(), s.Height()
		p.reorders = s.VUI != nil && s.VUI.BitstreamRestriction != nil && s.VUI.BitstreamRestriction.MaxNumReorderFrames > 0
	}
	return true
}

func (p *paramSet) setPPS(pps []byte) {
	if len(pps) > 0 && !bytes.Equal(p.pps, pps) {
		p.pps = bytes.Clone(pps)
	}
}

func (p *paramSet) setVPS(vps []byte) {
	if len(vps) > 0 && !bytes.Equal(p.vps, vps) {
		p.vps = bytes.Clone(vps)
	}
}
