package stream

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture"
)

// markedAU is an access unit whose bytes say which unit it is, so a unit
// whose memory was reused while someone still held it reads back wrong.
func markedAU(idr bool, size int, mark byte) [][]byte {
	nalus := au(idr, size)
	body := nalus[len(nalus)-1]
	for i := 1; i < len(body); i++ {
		body[i] = mark
	}
	return nalus
}

func annexB(nalus [][]byte) []byte {
	var b []byte
	for _, n := range nalus {
		if len(n) > 0 {
			b = append(append(b, 0, 0, 0, 1), n...)
		}
	}
	return b
}

// camera makes units numbered from 0 with an IDR every gopLen, each marked
// with its number.
type camera struct {
	gopLen, size int
	next         int
}

// make returns the next n units, and what each should read back as.
func (c *camera) make(n int) (units [][][]byte, want [][]byte) {
	for range n {
		// Sizes vary, so units end at different places in the chunks.
		nalus := markedAU(c.next%c.gopLen == 0, c.size+c.next*397%2000, byte(c.next))
		units = append(units, nalus)
		want = append(want, annexB(nalus))
		c.next++
	}
	return units, want
}

// write writes units made by c.make, numbered from first.
func (c *camera) write(s *Stream, first int, units [][][]byte) {
	for k, nalus := range units {
		i := first + k
		s.WriteAccessUnit(&capture.AccessUnit{NALUs: nalus, PTS: int64(i) * 3600, IDR: i%c.gopLen == 0, Session: 1, Received: time.Now()})
	}
}

// send makes and writes n units, and returns what they should read back as.
func (c *camera) send(s *Stream, n int) [][]byte {
	first := c.next
	units, want := c.make(n)
	c.write(s, first, units)
	return want
}

func TestUnwatchedCameraReusesItsGOPMemory(t *testing.T) {
	if !reuseGOPMemory {
		t.Skip("built with edgecam_noreuse: units are allocated")
	}
	s := New("cam", Options{})
	defer s.Close()
	cam := &camera{gopLen: 25, size: 4000}
	cam.send(s, 2*cam.gopLen) // the first reuse happens at the second IDR
	first := cam.next
	units, written := cam.make(10 * cam.gopLen)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cam.write(s, first, units)
	runtime.ReadMemStats(&after)

	// Without reuse every unit's packets are new memory: 10 GOPs of
	// 100 KB. With it, only the Unit headers are.
	video := uint64(len(units) * cam.size) // at least
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > video/5 {
		t.Errorf("writing %d KB of video allocated %d KB: the GOP memory is not reused", video>>10, alloc>>10)
	}

	// What a viewer arriving now gets is still exactly the last GOP.
	r, err := s.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for k := range cam.gopLen {
		it := next(t, r, "cached unit "+strconv.Itoa(k)+" of the last GOP, for a viewer joining now")
		if got, want := it.Unit.AppendAnnexB(nil), written[len(written)-cam.gopLen+k]; !bytes.Equal(got, want) {
			t.Fatalf("cached unit %d reads back differently from what the camera sent", k)
		}
	}
}

func TestUnitsAViewerWasGivenAreNeverReused(t *testing.T) {
	tests := []struct {
		name string
		join int  // the viewer subscribes after this many units
		hold bool // it takes the cached GOP, then leaves, keeping the units
	}{
		{"joins before the first IDR", 0, false},
		{"joins mid-GOP", 10, false},
		{"joins at the last unit of a GOP", 24, false},
		{"joins mid-GOP and leaves with the units", 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cam := &camera{gopLen: 25, size: 3000}
			s := New("cam", Options{QueueLen: 4 * cam.gopLen})
			defer s.Close()
			written := cam.send(s, tt.join)
			r, err := s.Subscribe()
			if err != nil {
				t.Fatal(err)
			}
			first := tt.join / cam.gopLen * cam.gopLen // the cached GOP's IDR
			var got []Item
			if tt.hold {
				for range tt.join - first {
					got = append(got, next(t, r, "a cached unit"))
				}
				r.Close()
			}
			written = append(written, cam.send(s, 3*cam.gopLen)...)
			if !tt.hold {
				r.Close()
				got = drain(t, r)
			}
			if len(got) == 0 {
				t.Fatal("the viewer got nothing")
			}
			for k, it := range got {
				if !bytes.Equal(it.Unit.AppendAnnexB(nil), written[first+k]) {
					t.Fatalf("unit %d the viewer holds changed after it was given: its memory was reused", first+k)
				}
			}
		})
	}
}
