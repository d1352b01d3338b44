package stream

import (
	"github.com/pion/rtp"

	"github.com/edgecam/edgecam/capture"
)

// NALU types the packetizer writes: H.264 (RFC 6184) and H.265 (RFC 7798).
const (
	naluTypeSTAPA = 24
	naluTypeFUA   = 28
	naluTypeAP    = 48
	naluTypeFU    = 49
)

// packetizer turns access units into RTP packets: H.264 in packetization
// mode 1 (single NAL unit, STAP-A and FU-A), as gortsplib's rtph264.Encoder
// does, and H.265 without decoding order numbers (single NAL unit,
// aggregation and fragmentation units, RFC 7798), as rtph265.Encoder does,
// but without allocating per packet: every payload of a unit lives in one
// run of bytes and its packets are one array, both cut from the stream's
// unitMemory. The packets are the only copy of the unit: decoders read its
// NALUs back out of them (Unit.AppendAnnexB), so a cached GOP costs its size
// once.
type packetizer struct {
	maxPayload int
	ssrc       uint32
	seq        uint16

	batches []batch // scratch reused between calls
}

// batch is a run of NALUs sent together: one STAP-A, or one NALU alone
// (in one packet or fragmented).
type batch struct {
	start, end int // NALU index range, empty NALUs included
	n          int // non-empty NALUs in the range
	aggLen     int // STAP-A payload length if n > 1
}

// packetized is one access unit, owned by the Unit it becomes.
type packetized struct {
	packets []rtp.Packet
	size    int // NALU bytes
}

// headerLen is the size of a NAL unit header, which is also that of an
// aggregation packet's header: 1 byte in H.264, 2 in H.265.
func headerLen(codec capture.Codec) int {
	if codec == capture.CodecH265 {
		return 2
	}
	return 1
}

// packetize copies nalus of codec into packets; the result shares nothing
// with the caller's slices. Empty NALUs are skipped, and so are H.265 NALUs
// too short to have a header. The memory comes from mem, or is allocated if
// mem is nil.
func (p *packetizer) packetize(codec capture.Codec, nalus [][]byte, mem *unitMemory) packetized {
	// Plan: group NALUs that fit together into aggregation packets, exactly
	// as the gortsplib encoders do, and size the buffer and the packet
	// array.
	hdr := headerLen(codec)
	p.batches = p.batches[:0]
	size := 0
	for i, n := range nalus {
		if len(n) < hdr {
			continue
		}
		size += len(n)
		if last := len(p.batches) - 1; last >= 0 && p.batches[last].aggLen+2+len(n) <= p.maxPayload {
			b := &p.batches[last]
			b.end, b.n, b.aggLen = i+1, b.n+1, b.aggLen+2+len(n)
			continue
		}
		p.batches = append(p.batches, batch{start: i, end: i + 1, n: 1, aggLen: hdr + 2 + len(n)})
	}
	total, count := 0, 0
	for _, b := range p.batches {
		switch n := len(nalus[b.start]); {
		case b.n > 1:
			count++
			total += b.aggLen
		case n < p.maxPayload:
			count++
			total += n
		default:
			f := fragments(n, hdr, p.maxPayload)
			count += f
			total += n - hdr + (hdr+1)*f
		}
	}

	var buf []byte
	var pkts []rtp.Packet
	if mem != nil {
		// Every byte of buf is written below, so old contents do not matter.
		buf, pkts = mem.bytes(total), mem.packets(count)
	} else {
		buf, pkts = make([]byte, total), make([]rtp.Packet, count)
	}
	out := packetized{packets: pkts, size: size}
	pos, k := 0, 0
	emit := func(payload []byte) {
		pkts[k] = rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: p.seq, SSRC: p.ssrc},
			Payload: payload,
		}
		p.seq++
		k++
	}
	for _, b := range p.batches {
		if b.n == 1 {
			nalu := nalus[b.start]
			if len(nalu) < p.maxPayload {
				copy(buf[pos:], nalu)
				emit(buf[pos : pos+len(nalu) : pos+len(nalu)])
				pos += len(nalu)
				continue
			}
			body := nalu[hdr:]
			for first := true; len(body) > 0; first = false {
				chunk := min(p.maxPayload-hdr-1, len(body))
				fu := buf[pos : pos+hdr+1+chunk : pos+hdr+1+chunk]
				// The FU header: the NALU's type, with start and end bits.
				var typ byte
				if codec == capture.CodecH265 {
					// The payload header is the NALU's with type FU.
					fu[0] = nalu[0]&0x81 | naluTypeFU<<1
					fu[1] = nalu[1]
					typ = nalu[0] >> 1 & 0x3f
				} else {
					// The FU indicator carries the NALU's NRI.
					fu[0] = nalu[0]&0x60 | naluTypeFUA
					typ = nalu[0] & 0x1f
				}
				if first {
					typ |= 0x80
				}
				if chunk == len(body) {
					typ |= 0x40
				}
				fu[hdr] = typ
				copy(fu[hdr+1:], body[:chunk])
				body = body[chunk:]
				pos += len(fu)
				emit(fu)
			}
			continue
		}
		begin := pos
		pos += hdr
		for _, n := range nalus[b.start:b.end] {
			if len(n) < hdr {
				continue
			}
			buf[pos], buf[pos+1] = byte(len(n)>>8), byte(len(n))
			pos += 2
			pos += copy(buf[pos:], n)
		}
		aggregationHeader(codec, buf[begin:begin+hdr], nalus[b.start:b.end])
		emit(buf[begin:pos:pos])
	}
	if k > 0 {
		pkts[k-1].Marker = true
	}
	return out
}

// aggregationHeader writes the header of an aggregation packet of nalus:
// an H.264 STAP-A with the highest NRI of its NALUs (RFC 6184 5.7.1), an
// H.265 AP with their lowest layer and temporal ids (RFC 7798 4.4.2).
func aggregationHeader(codec capture.Codec, h []byte, nalus [][]byte) {
	if codec != capture.CodecH265 {
		var nri byte
		for _, n := range nalus {
			if len(n) > 0 {
				nri = max(nri, n[0]&0x60)
			}
		}
		h[0] = nri | naluTypeSTAPA
		return
	}
	layer, tid := byte(0x3f), byte(7)
	for _, n := range nalus {
		if len(n) >= 2 {
			layer = min(layer, (n[0]&1)<<5|n[1]>>3)
			tid = min(tid, n[1]&7)
		}
	}
	h[0] = naluTypeAP<<1 | layer>>5
	h[1] = layer<<3 | tid
}

// AppendAnnexB appends the unit's NALUs to dst in Annex-B form (each after a
// 4-byte start code), read back out of its packets, and returns the result.
func (u *Unit) AppendAnnexB(dst []byte) []byte {
	h265 := u.Codec == capture.CodecH265
	hdr := 1
	if h265 {
		hdr = 2
	}
	for i := range u.Packets {
		p := u.Packets[i].Payload
		if len(p) < hdr {
			continue
		}
		var typ byte
		if h265 {
			typ = p[0] >> 1 & 0x3f
		} else {
			typ = p[0] & 0x1f
		}
		switch {
		case !h265 && typ == naluTypeSTAPA, h265 && typ == naluTypeAP:
			for rest := p[hdr:]; len(rest) >= 2; {
				n := int(rest[0])<<8 | int(rest[1])
				rest = rest[2:]
				if n == 0 || n > len(rest) {
					break
				}
				dst = append(dst, annexBStart...)
				dst = append(dst, rest[:n]...)
				rest = rest[n:]
			}
		case !h265 && typ == naluTypeFUA, h265 && typ == naluTypeFU:
			if len(p) < hdr+1 {
				continue
			}
			fu := p[hdr]
			if fu&0x80 != 0 {
				dst = append(dst, annexBStart...)
				if h265 {
					dst = append(dst, p[0]&0x81|(fu&0x3f)<<1, p[1])
				} else {
					dst = append(dst, p[0]&0xe0|fu&0x1f)
				}
			}
			dst = append(dst, p[hdr+1:]...)
		default:
			dst = append(dst, annexBStart...)
			dst = append(dst, p...)
		}
	}
	return dst
}

var annexBStart = []byte{0, 0, 0, 1}

// fragments is how many fragmentation units a NALU of n bytes, with a
// header of hdr bytes, needs.
func fragments(n, hdr, maxPayload int) int {
	avail := maxPayload - hdr - 1
	return (n - hdr + avail - 1) / avail
}
