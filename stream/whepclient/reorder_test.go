package whepclient

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestReorderGivesPacketsInSequenceAndWaitsForResends(t *testing.T) {
	const wait = 100 * time.Millisecond
	type arrival struct {
		seq uint16
		at  time.Duration
	}
	for _, tc := range []struct {
		name     string
		arrivals []arrival
		expireAt time.Duration // a read timeout at this time, if not zero
		want     []uint16
		afterGap []uint16 // the packets emitted right after ones given up on
		lost     int
		missed   int // missing when a later packet arrived, resent or not
	}{
		{"in order across the wrap", []arrival{{65534, 0}, {65535, 1}, {0, 2}, {1, 3}}, 0, []uint16{65534, 65535, 0, 1}, nil, 0, 0},
		{"resent in time", []arrival{{10, 0}, {12, 1}, {13, 2}, {11, 40}, {14, 41}}, 0, []uint16{10, 11, 12, 13, 14}, nil, 0, 1},
		{"never resent: released by the next packet after the wait", []arrival{{10, 0}, {12, 1}, {13, 2}, {14, 150}}, 0, []uint16{10, 12, 13, 14}, []uint16{12}, 1, 1},
		{"never resent: released by the read timeout", []arrival{{10, 0}, {12, 1}, {13, 2}}, 101, []uint16{10, 12, 13}, []uint16{12}, 1, 1},
		{"resent too late is dropped", []arrival{{10, 0}, {12, 1}, {14, 150}, {11, 160}, {15, 161}}, 0, []uint16{10, 12, 14, 15}, []uint16{12, 14}, 2, 2},
		{"duplicates are dropped", []arrival{{10, 0}, {11, 1}, {11, 2}, {13, 3}, {13, 4}, {12, 5}}, 0, []uint16{10, 11, 12, 13}, nil, 0, 1},
		{"a sender that starts over is followed", []arrival{{10, 0}, {11, 1}, {40000, 2}, {40001, 3}, {40003, 4}, {40002, 5}}, 0, []uint16{10, 11, 40000, 40001, 40002, 40003}, nil, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			r := &reorder{maxWait: wait}
			var got, afterGap []uint16
			emit := func(p *rtp.Packet, gap bool) {
				got = append(got, p.SequenceNumber)
				if gap {
					afterGap = append(afterGap, p.SequenceNumber)
				}
			}
			for _, a := range tc.arrivals {
				r.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: a.seq}}, t0.Add(a.at*time.Millisecond), emit)
			}
			if tc.expireAt != 0 {
				if d, ok := r.deadline(); !ok || d.After(t0.Add(tc.expireAt*time.Millisecond)) {
					t.Fatalf("deadline %v (held: %v), want one before %v", d.Sub(t0), ok, tc.expireAt*time.Millisecond)
				}
				r.expire(t0.Add(tc.expireAt*time.Millisecond), emit)
			}
			if !slices.Equal(got, tc.want) || r.lost != tc.lost || r.missed != tc.missed || !slices.Equal(afterGap, tc.afterGap) {
				t.Fatalf("emitted %v (%v after a gap), lost %d, missed %d; want %v (%v), lost %d, missed %d",
					got, afterGap, r.lost, r.missed, tc.want, tc.afterGap, tc.lost, tc.missed)
			}
			if _, ok := r.deadline(); ok && tc.expireAt != 0 {
				t.Fatal("packets still held after the read timeout")
			}
		})
	}
}
