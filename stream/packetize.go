package stream

import (
	"github.com/pion/rtp"
)

// NALU types the packetizer writes (RFC 6184).
const (
	naluTypeSTAPA = 24
	naluTypeFUA   = 28
)

// packetizer turns access units into RTP/H.264 packets (packetization mode
// 1: single NAL unit, STAP-A and FU-A), as gortsplib's rtph264.Encoder does,
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

// packetize copies nalus into packets; the result shares nothing with the
// caller's slices. Empty NALUs are skipped. The memory comes from mem, or
// is allocated if mem is nil.
func (p *packetizer) packetize(nalus [][]byte, mem *unitMemory) packetized {
	// Plan: group NALUs that fit together into STAP-A batches, exactly as
	// rtph264.Encoder does, and size the buffer and the packet array.
	p.batches = p.batches[:0]
	size := 0
	for i, n := range nalus {
		size += len(n)
		if len(n) == 0 {
			continue
		}
		if last := len(p.batches) - 1; last >= 0 && p.batches[last].aggLen+2+len(n) <= p.maxPayload {
			b := &p.batches[last]
			b.end, b.n, b.aggLen = i+1, b.n+1, b.aggLen+2+len(n)
			continue
		}
		p.batches = append(p.batches, batch{start: i, end: i + 1, n: 1, aggLen: 1 + 2 + len(n)})
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
			f := fragments(n, p.maxPayload)
			count += f
			total += n - 1 + 2*f
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
			// FU-A: the NALU header becomes the FU indicator (its NRI) and
			// the FU header (its type, with start and end bits).
			avail := p.maxPayload - 2
			nri, typ := nalu[0]&0x60, nalu[0]&0x1f
			body := nalu[1:]
			for first := true; len(body) > 0; first = false {
				chunk := min(avail, len(body))
				fu := buf[pos : pos+2+chunk : pos+2+chunk]
				fu[0] = nri | naluTypeFUA
				fu[1] = typ
				if first {
					fu[1] |= 0x80
				}
				if chunk == len(body) {
					fu[1] |= 0x40
				}
				copy(fu[2:], body[:chunk])
				body = body[chunk:]
				pos += len(fu)
				emit(fu)
			}
			continue
		}
		// STAP-A, with the highest NRI of its NALUs (RFC 6184 5.7.1).
		begin := pos
		buf[pos] = naluTypeSTAPA
		pos++
		var nri byte
		for _, n := range nalus[b.start:b.end] {
			if len(n) == 0 {
				continue
			}
			nri = max(nri, n[0]&0x60)
			buf[pos], buf[pos+1] = byte(len(n)>>8), byte(len(n))
			pos += 2
			pos += copy(buf[pos:], n)
		}
		buf[begin] |= nri
		emit(buf[begin:pos:pos])
	}
	if k > 0 {
		pkts[k-1].Marker = true
	}
	return out
}

// AppendAnnexB appends the unit's NALUs to dst in Annex-B form (each after a
// 4-byte start code), read back out of its packets, and returns the result.
func (u *Unit) AppendAnnexB(dst []byte) []byte {
	for i := range u.Packets {
		p := u.Packets[i].Payload
		if len(p) == 0 {
			continue
		}
		switch p[0] & 0x1f {
		case naluTypeSTAPA:
			for rest := p[1:]; len(rest) >= 2; {
				n := int(rest[0])<<8 | int(rest[1])
				rest = rest[2:]
				if n == 0 || n > len(rest) {
					break
				}
				dst = append(dst, annexBStart...)
				dst = append(dst, rest[:n]...)
				rest = rest[n:]
			}
		case naluTypeFUA:
			if len(p) < 2 {
				continue
			}
			if p[1]&0x80 != 0 {
				dst = append(dst, annexBStart...)
				dst = append(dst, p[0]&0xe0|p[1]&0x1f)
			}
			dst = append(dst, p[2:]...)
		default:
			dst = append(dst, annexBStart...)
			dst = append(dst, p...)
		}
	}
	return dst
}

var annexBStart = []byte{0, 0, 0, 1}

// fragments is how many FU-A packets a NALU of n bytes needs.
func fragments(n, maxPayload int) int {
	avail := maxPayload - 2
	return (n - 1 + avail - 1) / avail
}
