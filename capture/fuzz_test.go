package capture

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/edgecam/edgecam/capture/testcamera"
)

// recordingSink keeps copies of what a reader delivers, as a Sink may not keep
// the units themselves.
type recordingSink struct {
	units []AccessUnit
}

func (s *recordingSink) WriteAccessUnit(au *AccessUnit) {
	c := *au
	c.NALUs = make([][]byte, len(au.NALUs))
	for i, n := range au.NALUs {
		c.NALUs[i] = bytes.Clone(n)
	}
	s.units = append(s.units, c)
}

// splitFuzzUnits decodes a fuzz input into access units: a sequence of
// records, each a big-endian uint16 length followed by that many bytes of
// NALU (fewer at the end of the input); a length of 0 ends the current unit.
func splitFuzzUnits(data []byte) [][][]byte {
	var units [][][]byte
	var cur [][]byte
	for len(data) >= 2 {
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if n == 0 {
			units = append(units, cur)
			cur = nil
			continue
		}
		n = min(n, len(data))
		cur = append(cur, data[:n])
		data = data[n:]
	}
	if len(cur) > 0 {
		units = append(units, cur)
	}
	return units
}

// joinFuzzUnits is the inverse of splitFuzzUnits, for seeds.
func joinFuzzUnits(units ...[][]byte) []byte {
	var out []byte
	for _, au := range units {
		for _, n := range au {
			out = binary.BigEndian.AppendUint16(out, uint16(len(n)))
			out = append(out, n...)
		}
		out = binary.BigEndian.AppendUint16(out, 0)
	}
	return out
}

func naluType(n []byte) h264.NALUType { return h264.NALUType(n[0] & 0x1f) }

// FuzzReaderDeliver feeds arbitrary NALU lists to the reader, with and without
// parameter sets from the SDP, and checks what every Sink relies on: no unit
// before the first decodable IDR, and every IDR starting with SPS and PPS.
func FuzzReaderDeliver(f *testing.F) {
	aus := testcamera.AccessUnits()
	sps, pps := testcamera.Params()
	short := func(n []byte) []byte { return n[:min(len(n), 48)] } // keep seeds small
	var idr, p []byte
	for _, n := range aus[0] {
		if naluType(n) == h264.NALUTypeIDR {
			idr = short(n)
		}
	}
	p = short(aus[1][len(aus[1])-1])
	aud, sei := []byte{0x09, 0xf0}, []byte{0x06, 0x05, 0x01, 0x80}

	f.Add(joinFuzzUnits([][]byte{sps, pps, idr}, [][]byte{p}, [][]byte{p}), false)
	f.Add(joinFuzzUnits([][]byte{idr}, [][]byte{p}), true)                           // params only in the SDP
	f.Add(joinFuzzUnits([][]byte{p}, [][]byte{sps, pps, idr}, [][]byte{p}), false)   // joined mid-GOP
	f.Add(joinFuzzUnits([][]byte{aud, sps, pps, idr}, [][]byte{aud, p}), false)      // AUD first, as many cameras do
	f.Add(joinFuzzUnits([][]byte{sei, idr, sps, pps}, [][]byte{p}), true)            // parameters after the slice
	f.Add(joinFuzzUnits([][]byte{sps, idr}, [][]byte{pps, idr}, [][]byte{p}), false) // parameters split over units
	f.Add(joinFuzzUnits([][]byte{{0x67}, {0x68}, {0x65}}), false)                    // headers only
	f.Add(joinFuzzUnits([][]byte{{}, sps, {}, pps, idr, {}}), false)                 // empty NALUs

	f.Fuzz(func(t *testing.T, data []byte, sdpParams bool) {
		sink := &recordingSink{}
		cam := New(Config{Name: "fuzz", URL: "rtsp://127.0.0.1/stream"}, sink, nil)
		var r *reader
		if sdpParams {
			r = &reader{cam: cam, session: 1, params: newParamSet(sps, pps), dec: &unitDecoder{}}
		} else {
			r = &reader{cam: cam, session: 1, params: newParamSet(nil, nil), dec: &unitDecoder{}}
		}
		units := splitFuzzUnits(data)
		for i, au := range units {
			r.deliver(au, int64(i)*3600)
		}

		for i, u := range sink.units {
			hasIDR := false
			for _, n := range u.NALUs {
				if len(n) > 0 && naluType(n) == h264.NALUTypeIDR {
					hasIDR = true
				}
			}
			if hasIDR != u.IDR {
				t.Fatalf("unit %d: IDR flag %v, but IDR NALU present %v", i, u.IDR, hasIDR)
			}
			if i == 0 && !u.IDR {
				t.Fatalf("first delivered unit is not an IDR: %x", u.NALUs)
			}
			if u.IDR && !newParamSet(nil, nil).leads(u.NALUs) {
				t.Fatalf("unit %d is an IDR that does not start with SPS and PPS: %x", i, u.NALUs)
			}
			if u.Session != 1 {
				t.Fatalf("unit %d: session %d, want 1", i, u.Session)
			}
		}
		if len(sink.units) > len(units) {
			t.Fatalf("%d units delivered from %d given", len(sink.units), len(units))
		}
	})
}

// FuzzParamSetSPS feeds arbitrary SPS NALUs to the parameter tracker, which
// parses them for the resolution shown in the API: it must never panic, must
// report a change exactly when the bytes change, and must keep its own copy.
func FuzzParamSetSPS(f *testing.F) {
	sps, _ := testcamera.Params()
	f.Add(sps)
	f.Add(sps[:len(sps)/2])
	f.Add([]byte{0x67})
	f.Add([]byte{0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc6, 0x58})
	f.Add([]byte{0x67, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, data []byte) {
		p := newParamSet(sps, nil)
		changed := p.setSPS(data)
		if changed == bytes.Equal(data, sps) {
			t.Fatalf("setSPS reported change %v for %x after %x", changed, data, sps)
		}
		if p.setSPS(data) {
			t.Fatal("setSPS reported a change for the same bytes twice")
		}
		if len(data) > 0 {
			data[0] ^= 0xff
			if bytes.Equal(p.sps, data) {
				t.Fatal("paramSet shares memory with the caller's SPS")
			}
		}
		if p.width < 0 || p.height < 0 {
			t.Fatalf("negative size %dx%d", p.width, p.height)
		}
	})
}
