package capture

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

var (
	// errMorePacketsNeeded: the packet was taken in, no access unit is
	// complete yet.
	errMorePacketsNeeded = errors.New("need more packets")
	// errNonStartingNoPrevious: a session joined in the middle of a
	// fragmented NALU; normal right after PLAY.
	errNonStartingNoPrevious = errors.New("non-starting fragment without a previous starting fragment")
)

// depacketizer turns H.264 RTP packets (RFC 6184, packetization modes 0 and
// 1) into access units. It behaves like gortsplib's rtph264.Decoder (same
// splitting on the marker bit or on a timestamp change, same limits, same
// Annex-B-in-RTP tolerance) but reuses its memory: the NALUs it returns are
// valid only until the next call to decode, which is all the reader needs
// because every Sink copies what it keeps. rtph264.Decoder allocates each
// reassembled NALU and each access unit's slice, garbage made for every
// frame of every camera. Its gain, and when it could go: depacketize_own.go.
type depacketizer struct {
	// Two arenas hold the NALU bytes of access units: one for the unit
	// being assembled, the other for the unit returned last, which must stay
	// intact until the next call.
	arena [2][]byte
	spans [2][]span
	out   [2][][]byte
	cur   int

	frameTS    uint32
	framePend  bool // spans[cur] holds NALUs of a unit not yet returned
	frameSize  int
	fu         []byte // the FU-A NALU being reassembled
	fuActive   bool
	fuNextSeq  uint16
	gotFirst   bool // any packet other than a non-starting fragment seen
	annexBMode bool
	pieces     [][]byte
}

type span struct{ off, n int }

// decode takes one packet. It returns a complete access unit, or
// errMorePacketsNeeded, or another error for a packet that cannot be used
// (the unit it belonged to is then incomplete and dropped where rtph264
// would drop it).
func (d *depacketizer) decode(pkt *rtp.Packet) ([][]byte, error) {
	pieces, err := d.nalus(pkt)
	if err != nil {
		return nil, err
	}
	if len(pieces) == 1 {
		if pieces, err = d.removeAnnexB(pieces); err != nil {
			return nil, err
		}
	}

	// Cameras that never set the marker bit end a unit by starting the
	// next one with a new timestamp.
	if d.framePend && pkt.Timestamp != d.frameTS {
		ret := d.finish()
		if err := d.add(pieces, pkt.Timestamp); err != nil {
			return nil, err
		}
		return ret, nil
	}
	if err := d.add(pieces, pkt.Timestamp); err != nil {
		return nil, err
	}
	if !pkt.Marker {
		return nil, errMorePacketsNeeded
	}
	return d.finish(), nil
}

// nalus returns the NALUs a packet completes. They may point into the
// packet or into d.fu, so they are copied by add before the next packet.
func (d *depacketizer) nalus(pkt *rtp.Packet) ([][]byte, error) {
	p := pkt.Payload
	if len(p) < 1 {
		d.fuActive = false
		return nil, errors.New("payload is too short")
	}
	d.pieces = d.pieces[:0]
	switch typ := h264.NALUType(p[0] & 0x1f); typ {
	case h264.NALUTypeFUA:
		if len(p) < 2 {
			return nil, errors.New("invalid FU-A packet (invalid size)")
		}
		start, end := p[1]&0x80 != 0, p[1]&0x40 != 0
		if start {
			d.fu = append(d.fu[:0], p[0]&0x60|p[1]&0x1f)
			d.fu = append(d.fu, p[2:]...)
			d.fuActive, d.fuNextSeq, d.gotFirst = true, pkt.SequenceNumber+1, true
			// RFC 6184 forbids start and end in one FU, but some cameras
			// send small P-frames that way.
			if !end {
				return nil, errMorePacketsNeeded
			}
		} else {
			if !d.fuActive {
				if !d.gotFirst {
					return nil, errNonStartingNoPrevious
				}
				return nil, errors.New("invalid FU-A packet (non-starting)")
			}
			if pkt.SequenceNumber != d.fuNextSeq {
				d.fuActive = false
				return nil, errors.New("discarding frame since a RTP packet is missing")
			}
			if len(d.fu)+len(p)-2 > h264.MaxAccessUnitSize {
				d.fuActive = false
				return nil, fmt.Errorf("NALU size (%d) is too big, maximum is %d", len(d.fu)+len(p)-2, h264.MaxAccessUnitSize)
			}
			d.fu = append(d.fu, p[2:]...)
			d.fuNextSeq++
			if !end {
				return nil, errMorePacketsNeeded
			}
		}
		d.fuActive = false
		d.pieces = append(d.pieces, d.fu)

	case h264.NALUTypeSTAPA:
		d.fuActive = false
		rest := p[1:]
		for {
			if len(rest) < 2 {
				return nil, errors.New("invalid STAP-A packet (invalid size)")
			}
			size := int(rest[0])<<8 | int(rest[1])
			rest = rest[2:]
			if size == 0 {
				if allZero(rest) { // padding
					break
				}
				return nil, errors.New("invalid STAP-A packet (invalid size)")
			}
			if size > len(rest) {
				return nil, errors.New("invalid STAP-A packet (invalid size)")
			}
			d.pieces = append(d.pieces, rest[:size])
			rest = rest[size:]
			if len(rest) == 0 {
				break
			}
		}
		if len(d.pieces) == 0 {
			return nil, errors.New("STAP-A packet doesn't contain any NALU")
		}
		d.gotFirst = true

	case h264.NALUTypeSTAPB, h264.NALUTypeMTAP16, h264.NALUTypeMTAP24, h264.NALUTypeFUB:
		d.fuActive, d.gotFirst = false, true
		return nil, fmt.Errorf("packet type not supported (%v)", typ)

	default:
		d.fuActive, d.gotFirst = false, true
		d.pieces = append(d.pieces, p)
	}
	return d.pieces, nil
}

var annexBStartCode = []byte{0, 0, 0, 1}

// removeAnnexB splits a NALU that carries Annex-B start codes, as some
// cameras and servers wrap them; once seen, the session is taken to do so
// throughout. Rare, so it may allocate.
func (d *depacketizer) removeAnnexB(pieces [][]byte) ([][]byte, error) {
	n := pieces[0]
	if !d.annexBMode && bytes.Contains(n, annexBStartCode) {
		d.annexBMode = true
	}
	if !d.annexBMode {
		return pieces, nil
	}
	if !bytes.HasPrefix(n, annexBStartCode) {
		n = append(append([]byte(nil), annexBStartCode...), n...)
	}
	var au h264.AnnexB
	if err := au.Unmarshal(n); err != nil {
		return nil, err
	}
	return au, nil
}

// add copies NALUs into the unit being assembled.
func (d *depacketizer) add(pieces [][]byte, ts uint32) error {
	size := 0
	for _, p := range pieces {
		size += len(p)
	}
	if n := len(d.spans[d.cur]) + len(pieces); n > h264.MaxNALUsPerAccessUnit {
		d.reset()
		return fmt.Errorf("NALU count (%d) exceeds maximum allowed (%d)", n, h264.MaxNALUsPerAccessUnit)
	}
	if d.frameSize+size > h264.MaxAccessUnitSize {
		n := d.frameSize + size
		d.reset()
		return fmt.Errorf("access unit size (%d) is too big, maximum is %d", n, h264.MaxAccessUnitSize)
	}
	a := d.arena[d.cur]
	for _, p := range pieces {
		d.spans[d.cur] = append(d.spans[d.cur], span{len(a), len(p)})
		a = append(a, p...)
	}
	d.arena[d.cur] = a
	d.frameSize += size
	d.frameTS, d.framePend = ts, true
	return nil
}

// finish returns the assembled unit and starts the next one in the other
// arena, so the returned NALUs survive until the next call.
func (d *depacketizer) finish() [][]byte {
	i := d.cur
	out := d.out[i][:0]
	for _, s := range d.spans[i] {
		out = append(out, d.arena[i][s.off:s.off+s.n:s.off+s.n])
	}
	d.out[i] = out
	d.cur = 1 - i
	d.reset()
	return out
}

// reset empties the unit being assembled.
func (d *depacketizer) reset() {
	d.arena[d.cur] = d.arena[d.cur][:0]
	d.spans[d.cur] = d.spans[d.cur][:0]
	d.frameSize, d.framePend = 0, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
