package capture

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/pion/rtp"
)

// clipPackets packetizes the test clip as a camera does, one slice of
// packets per access unit.
func clipPackets(t testing.TB, maxPayload int) [][]*rtp.Packet {
	t.Helper()
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1, PayloadMaxSize: maxPayload}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	var out [][]*rtp.Packet
	for i, au := range testcamera.AccessUnits() {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = uint32(i * 3600)
		}
		out = append(out, pkts)
	}
	return out
}

func TestDepacketizerReturnsTheCameraAccessUnits(t *testing.T) {
	aus := testcamera.AccessUnits()
	for _, tc := range []struct {
		name       string
		maxPayload int
		noMarker   bool
	}{
		{"FU-A and STAP-A, 1460-byte payloads", 1460, false},
		{"small payloads, many fragments", 200, false},
		{"no marker bits: units end on a timestamp change", 1460, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d depacketizer
			got := 0
			var prev [][]byte // the unit returned last must stay intact until the next call
			for i, pkts := range clipPackets(t, tc.maxPayload) {
				for _, p := range pkts {
					if tc.noMarker {
						p.Marker = false
					}
					nalus, err := d.decode(p)
					if err == errMorePacketsNeeded {
						continue
					}
					if err != nil {
						t.Fatalf("unit %d: %v", i, err)
					}
					if prev != nil {
						t.Fatalf("unit %d: two units from one call sequence", i)
					}
					prev = nalus
				}
				if prev == nil {
					if tc.noMarker && i == got {
						continue // returned when the next unit starts
					}
					t.Fatalf("unit %d was not returned", i)
				}
				want := aus[got]
				if len(prev) != len(want) {
					t.Fatalf("unit %d has %d NALUs, want %d", got, len(prev), len(want))
				}
				for k := range want {
					if !bytes.Equal(prev[k], want[k]) {
						t.Fatalf("unit %d NALU %d differs", got, k)
					}
				}
				got++
				prev = nil
			}
			if min := len(aus) - 1; got < min {
				t.Fatalf("%d units returned, want at least %d", got, min)
			}
		})
	}
}

// FuzzDepacketizerMatchesRTPH264 checks that the depacketizer, which reuses
// its memory, returns exactly what gortsplib's rtph264.Decoder returns for any
// packet sequence: same units, same NALU bytes, errors in the same places.
func FuzzDepacketizerMatchesRTPH264(f *testing.F) {
	// Seeds: the clip's first units as packets, in the fuzz format below.
	for _, n := range []int{1460, 100} {
		var seed []byte
		for _, pkts := range clipPackets(f, n)[:3] {
			for _, p := range pkts {
				flags := byte(0)
				if p.Marker {
					flags |= 1
				}
				payload := p.Payload[:min(len(p.Payload), 120)]
				seed = append(seed, flags, byte(len(payload)))
				seed = append(seed, payload...)
			}
		}
		f.Add(seed)
	}
	f.Add([]byte{1, 3, 0x7c, 0x85, 0xaa, 0, 2, 0x7c, 0x05, 1, 2, 0x7c, 0x45}) // FU-A start, missing middle, end
	f.Add([]byte{0, 8, 0x18, 0, 2, 0x67, 0x42, 0, 0, 0, 3, 0, 1, 0x65})       // STAP-A with padding, then a timestamp change
	f.Add([]byte{1, 9, 0x65, 0, 0, 0, 1, 0x41, 0x9a, 0, 0})                   // Annex-B inside RTP

	// Format: records of [flags][length][payload]; flags bit 0 is the
	// marker, bit 1 advances the timestamp, bit 2 skips a sequence number.
	f.Fuzz(func(t *testing.T, data []byte) {
		ref := &rtph264.Decoder{PacketizationMode: 1}
		if err := ref.Init(); err != nil {
			t.Fatal(err)
		}
		var d depacketizer
		seq, ts := uint16(1000), uint32(0)
		for i := 0; len(data) >= 2; i++ {
			flags, n := data[0], int(data[1])
			data = data[2:]
			n = min(n, len(data))
			payload := data[:n]
			data = data[n:]
			if flags&2 != 0 {
				ts += 3000
			}
			if flags&4 != 0 {
				seq++
			}
			seq++
			mk := func() *rtp.Packet {
				return &rtp.Packet{
					Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: flags&1 != 0},
					Payload: bytes.Clone(payload),
				}
			}
			want, werr := ref.Decode(mk())
			got, gerr := d.decode(mk())
			if class(werr) != class(gerr) {
				t.Fatalf("packet %d: rtph264 says %v, depacketizer says %v", i, werr, gerr)
			}
			if werr != nil {
				continue
			}
			if len(got) != len(want) {
				t.Fatalf("packet %d: %d NALUs, rtph264 has %d", i, len(got), len(want))
			}
			for k := range want {
				if !bytes.Equal(got[k], want[k]) {
					t.Fatalf("packet %d NALU %d: %x, rtph264 has %x", i, k, got[k], want[k])
				}
			}
		}
	})
}

func class(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, rtph264.ErrMorePacketsNeeded), err == errMorePacketsNeeded:
		return "more packets needed"
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious), err == errNonStartingNoPrevious:
		return "non-starting fragment first"
	default:
		return "error"
	}
}
