package stream

import (
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture"
)

// au265 is au for H.265: VPS, SPS and PPS before an IDR_W_RADL (type 19),
// a TRAIL_R slice (type 1) otherwise.
func au265(idr bool, size int) [][]byte {
	body := make([]byte, size)
	body[1] = 0x01
	if idr {
		body[0] = 19 << 1
		return [][]byte{{0x40, 0x01, 0x0c}, {0x42, 0x01, 0x01}, {0x44, 0x01, 0xc1}, body}
	}
	body[0] = 1 << 1
	return [][]byte{body}
}

// A camera reconfigured from H.264 to H.265 ends its H.264 viewers, whose
// sessions cannot play the new codec, and new viewers are set up for it;
// decoders go on and see the codec change in the units.
func TestCodecSwitchEndsViewersOfTheOldCodec(t *testing.T) {
	s := New("cam", Options{})
	if c := s.Codec(); c != capture.CodecH264 {
		t.Fatalf("codec before any unit %q, want H264", c)
	}
	feed(s, 0, 10, 25, 1)
	old, err := s.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := s.SubscribeDecoder()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s.WriteAccessUnit(&capture.AccessUnit{Codec: capture.CodecH265, NALUs: au265(i == 0, 2000),
			PTS: int64(i) * 3600, IDR: i == 0, Session: 2, Received: time.Now()})
	}
	if s.Codec() != capture.CodecH265 {
		t.Fatalf("codec after H.265 units %q", s.Codec())
	}
	drain(t, old) // the codec switch closed its queue
	if old.Codec() != capture.CodecH264 {
		t.Errorf("the old viewer was set up for %q", old.Codec())
	}
	if s.Viewers() != 0 {
		t.Errorf("%d viewers left, want 0", s.Viewers())
	}
	var last Item
	for len(dec.C()) > 0 {
		last = <-dec.C()
	}
	if last.Unit == nil || last.Unit.Codec != capture.CodecH265 || dec.Codec() != capture.CodecH265 {
		t.Error("the decoder's reader did not go on with the H.265 units")
	}
	dec.Close()

	fresh, err := s.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	it := next(t, fresh, "the new viewer's cached IDR")
	if fresh.Codec() != capture.CodecH265 || it.Unit.Codec != capture.CodecH265 || !it.Unit.IDR {
		t.Fatalf("new viewer: reader %q, first unit %q IDR %v", fresh.Codec(), it.Unit.Codec, it.Unit.IDR)
	}
	want := au265(true, 2000)
	var annexB []byte
	for _, n := range want {
		annexB = append(append(annexB, 0, 0, 0, 1), n...)
	}
	if got := it.Unit.AppendAnnexB(nil); string(got) != string(annexB) {
		t.Errorf("the H.265 keyframe reads back as %d bytes, want %d", len(got), len(annexB))
	}
}
