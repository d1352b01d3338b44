package stream

import (
	"bytes"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
)

// FuzzPacketizeRoundTrip packetizes arbitrary NALU lists and reads them back
// as decoders do: the packets must fit the browser MTU, carry the unit's
// NALUs exactly, and depacketize with gortsplib's decoder to the same list.
func FuzzPacketizeRoundTrip(f *testing.F) {
	f.Add([]byte{0x67, 0x42, 0, 0x1f, 0xff, 0x68, 0xce, 0xff, 0x65, 0x88, 0x84}, uint16(1200))
	f.Add(bytes.Repeat([]byte{0x41, 0x9a, 0x02}, 3000), uint16(300))
	f.Add([]byte{0xff, 0x06, 0x05, 0xff, 0xff, 0xff}, uint16(50))
	f.Fuzz(func(t *testing.T, data []byte, maxPayload uint16) {
		// 0xff separates NALUs; the first byte of each is its header.
		var nalus [][]byte
		for _, n := range bytes.Split(data, []byte{0xff}) {
			if len(n) > 0 && n[0]&0x1f != 0 && n[0]&0x1f < naluTypeSTAPA {
				nalus = append(nalus, n)
			} else {
				nalus = append(nalus, nil) // empty NALUs are skipped
			}
		}
		p := &packetizer{maxPayload: int(max(maxPayload%1500, 64))}
		got := p.packetize(nalus, nil)
		var want []byte
		var nonEmpty [][]byte
		for _, n := range nalus {
			if len(n) > 0 {
				want = append(append(want, 0, 0, 0, 1), n...)
				nonEmpty = append(nonEmpty, n)
			}
		}
		if back := (&Unit{Packets: got.packets}).AppendAnnexB(nil); !bytes.Equal(back, want) {
			t.Fatalf("read back %x, want %x", back, want)
		}
		dec := &rtph264.Decoder{}
		if err := dec.Init(); err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for i := range got.packets {
			pkt := &got.packets[i]
			if len(pkt.Payload) > p.maxPayload {
				t.Fatalf("payload of %d bytes, limit %d", len(pkt.Payload), p.maxPayload)
			}
			if nalus, err := dec.Decode(pkt); err == nil {
				out = nalus
			}
		}
		if len(nonEmpty) > 0 && len(out) != len(nonEmpty) {
			t.Fatalf("depacketized %d NALUs, want %d", len(out), len(nonEmpty))
		}
	})
}
