package stream

import (
	"bytes"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/rtp"

	"github.com/edgecam/edgecam/capture"
)

// FuzzPacketizeRoundTrip packetizes arbitrary H.264 NALU lists and reads
// them back as decoders do: the packets must fit the browser MTU, carry the
// unit's NALUs exactly, and depacketize with gortsplib's decoder to the
// same list.
func FuzzPacketizeRoundTrip(f *testing.F) {
	f.Add([]byte{0x67, 0x42, 0, 0x1f, 0xff, 0x68, 0xce, 0xff, 0x65, 0x88, 0x84}, uint16(1200))
	f.Add(bytes.Repeat([]byte{0x41, 0x9a, 0x02}, 3000), uint16(300))
	f.Add([]byte{0xff, 0x06, 0x05, 0xff, 0xff, 0xff}, uint16(50))
	f.Fuzz(func(t *testing.T, data []byte, maxPayload uint16) {
		dec := &rtph264.Decoder{}
		if err := dec.Init(); err != nil {
			t.Fatal(err)
		}
		roundTrip(t, capture.CodecH264, data, maxPayload, func(n []byte) bool {
			return len(n) > 0 && n[0]&0x1f != 0 && n[0]&0x1f < naluTypeSTAPA
		}, dec.Decode)
	})
}

// FuzzPacketizeRoundTripH265 is FuzzPacketizeRoundTrip for H.265 (RFC
// 7798: single NAL units, aggregation and fragmentation units).
func FuzzPacketizeRoundTripH265(f *testing.F) {
	f.Add([]byte{0x40, 0x01, 0x0c, 0xff, 0x42, 0x01, 0x01, 0xff, 0x44, 0x01, 0xc1, 0xff, 0x26, 0x01, 0xaf}, uint16(1200))
	f.Add(bytes.Repeat([]byte{0x02, 0x01, 0xd0, 0x9a}, 3000), uint16(300))
	f.Add([]byte{0xff, 0x4e, 0x01, 0x05, 0xff, 0x01, 0xff}, uint16(50))
	f.Fuzz(func(t *testing.T, data []byte, maxPayload uint16) {
		dec := &rtph265.Decoder{}
		if err := dec.Init(); err != nil {
			t.Fatal(err)
		}
		roundTrip(t, capture.CodecH265, data, maxPayload, func(n []byte) bool {
			return len(n) >= 2 && n[0]&0x80 == 0 && n[0]>>1&0x3f < naluTypeAP
		}, dec.Decode)
	})
}

// roundTrip splits data into NALUs on 0xff bytes (valid says which to keep;
// the others become empty NALUs, which are skipped), packetizes them and
// checks what comes back.
func roundTrip(t *testing.T, codec capture.Codec, data []byte, maxPayload uint16, valid func([]byte) bool,
	decode func(*rtp.Packet) ([][]byte, error)) {
	var nalus [][]byte
	for _, n := range bytes.Split(data, []byte{0xff}) {
		if valid(n) {
			nalus = append(nalus, n)
		} else {
			nalus = append(nalus, nil)
		}
	}
	p := &packetizer{maxPayload: int(max(maxPayload%1500, 64))}
	got := p.packetize(codec, nalus, nil)
	var want []byte
	var nonEmpty [][]byte
	for _, n := range nalus {
		if len(n) > 0 {
			want = append(append(want, 0, 0, 0, 1), n...)
			nonEmpty = append(nonEmpty, n)
		}
	}
	if back := (&Unit{Codec: codec, Packets: got.packets}).AppendAnnexB(nil); !bytes.Equal(back, want) {
		t.Fatalf("read back %x, want %x", back, want)
	}
	var out [][]byte
	for i := range got.packets {
		pkt := &got.packets[i]
		if len(pkt.Payload) > p.maxPayload {
			t.Fatalf("payload of %d bytes, limit %d", len(pkt.Payload), p.maxPayload)
		}
		if nalus, err := decode(pkt); err == nil {
			out = nalus
		}
	}
	if len(nonEmpty) > 0 && len(out) != len(nonEmpty) {
		t.Fatalf("depacketized %d NALUs, want %d", len(out), len(nonEmpty))
	}
	for i := range out {
		if !bytes.Equal(out[i], nonEmpty[i]) {
			t.Fatalf("NALU %d came back as %x, want %x", i, out[i], nonEmpty[i])
		}
	}
}
