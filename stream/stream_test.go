package stream

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"

	"github.com/edgecam/edgecam/capture"
)

// au builds a fake access unit: an IDR (type 5) or a non-IDR slice (type 1)
// of the given size, with SPS and PPS in front of an IDR like capture does.
func au(idr bool, size int) [][]byte {
	body := make([]byte, size)
	if idr {
		body[0] = 0x65
		return [][]byte{{0x67, 0x42, 0xc0, 0x1f}, {0x68, 0xce, 0x3c, 0x80}, body}
	}
	body[0] = 0x41
	return [][]byte{body}
}

// feed writes n units at 25 fps timestamps starting with an IDR every gop units.
func feed(s *Stream, from, n, gop int, session uint64) {
	for i := from; i < from+n; i++ {
		s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(i%gop == 0, 3000), PTS: int64(i) * 3600, IDR: i%gop == 0, Session: session, Received: time.Now()})
	}
}

// waitTimeout bounds every wait on a reader's queue. The stream queues a
// unit before WriteAccessUnit returns, so one not there by now never comes;
// the bound turns that into a failure instead of a hang.
const waitTimeout = 5 * time.Second

// next returns r's next item, failing the test with what it waited for
// when the queue stays empty or is closed.
func next(t testing.TB, r *Reader, what string) Item {
	t.Helper()
	select {
	case it, ok := <-r.C():
		if !ok {
			t.Fatalf("waiting for %s: the reader's queue is closed", what)
		}
		return it
	case <-time.After(waitTimeout):
		t.Fatalf("waiting for %s: nothing in the reader's queue after %s", what, waitTimeout)
	}
	return Item{}
}

// drain reads r's queue to its end, failing the test when it is not
// closed within waitTimeout.
func drain(t testing.TB, r *Reader) []Item {
	t.Helper()
	var items []Item
	deadline := time.After(waitTimeout)
	for {
		select {
		case it, ok := <-r.C():
			if !ok {
				return items
			}
			items = append(items, it)
		case <-deadline:
			t.Fatalf("the reader's queue is still open after %s (%d items read)", waitTimeout, len(items))
		}
	}
}

func TestNewReaderStartsAtCachedIDRWithSqueezedTimestamps(t *testing.T) {
	s := New("cam", Options{})
	feed(s, 0, 37, 25, 1) // GOP at unit 25, 12 units cached

	r, err := s.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for len(r.C()) > 0 {
		items = append(items, <-r.C())
	}
	if len(items) != 12 {
		t.Fatalf("got %d cached units, want the 12 since the last IDR", len(items))
	}
	if !items[0].Unit.IDR {
		t.Fatal("first unit is not the IDR")
	}
	last := items[len(items)-1]
	if last.TS != last.Unit.TS {
		t.Fatalf("newest cached unit sent at %d, want its own timestamp %d", last.TS, last.Unit.TS)
	}
	for i := 1; i < len(items); i++ {
		if d := items[i].TS - items[i-1].TS; d != squeezeStep {
			t.Fatalf("cached units %d and %d are %d ticks apart, want %d", i-1, i, d, squeezeStep)
		}
	}
	// The next live unit continues on the camera's clock.
	feed(s, 37, 1, 25, 1)
	live := next(t, r, "the live unit after the cached GOP")
	if live.TS-last.TS != 3600 {
		t.Fatalf("live unit %d ticks after the burst, want 3600", live.TS-last.TS)
	}
}

func TestReaderWithoutCacheWaitsForIDR(t *testing.T) {
	s := New("cam", Options{})
	r, _ := s.Subscribe()
	feed(s, 1, 24, 25, 1) // all non-IDR
	if n := len(r.C()); n != 0 {
		t.Fatalf("reader got %d units before any IDR", n)
	}
	feed(s, 25, 2, 25, 1)
	if it := next(t, r, "the first IDR"); !it.Unit.IDR {
		t.Fatal("first unit delivered is not an IDR")
	}
}

func TestSlowReaderDropsUntilIDRAndNeverBlocksOthers(t *testing.T) {
	s := New("cam", Options{QueueLen: 4})
	slow, _ := s.Subscribe()
	fast, _ := s.Subscribe()

	received := make(chan struct{})
	go func() {
		for range fast.C() {
			received <- struct{}{}
		}
		close(received)
	}()

	// slow never reads: its queue is full after 4 units.
	for i := 0; i < 100; i++ {
		wrote := make(chan struct{})
		go func() {
			feed(s, i, 1, 25, 1)
			close(wrote)
		}()
		select {
		case <-wrote:
		case <-time.After(5 * time.Second):
			t.Fatal("a viewer that does not read blocked the camera")
		}
		select {
		case <-received:
		case <-time.After(5 * time.Second):
			t.Fatalf("the reading viewer did not get unit %d", i)
		}
	}
	fast.Close()

	// The slow reader resumes at an IDR once it reads again.
	for len(slow.C()) > 0 {
		<-slow.C()
	}
	feed(s, 100, 30, 25, 1)
	if it := next(t, slow, "the slow reader's next unit"); !it.Unit.IDR {
		t.Fatal("after dropping, the slow reader resumed on a non-IDR unit")
	}
	if s.Stats().Dropped == 0 {
		t.Fatal("drops were not counted")
	}
}

func TestTimestampsContinueAcrossSourceReconnect(t *testing.T) {
	s := New("cam", Options{})
	r, _ := s.Subscribe()
	feed(s, 0, 10, 25, 1)
	// After a reconnect the camera's clock restarts somewhere else entirely.
	for i := 0; i < 10; i++ {
		s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(i == 0, 100), PTS: 123456789 + int64(i)*3600, IDR: i == 0, Session: 2, Received: time.Now()})
	}
	var prev uint32
	for i := 0; i < 20; i++ {
		it := next(t, r, "unit "+strconv.Itoa(i))
		if i > 0 && it.TS-prev != 3600 {
			t.Fatalf("unit %d is %d ticks after the previous, want 3600", i, int32(it.TS-prev))
		}
		prev = it.TS
	}
}

func TestPacketsFitBrowserMTUAndRoundTrip(t *testing.T) {
	s := New("cam", Options{})
	r, _ := s.Subscribe()
	in := au(true, 50000)
	s.WriteAccessUnit(&capture.AccessUnit{NALUs: in, IDR: true, Session: 1, Received: time.Now()})
	it := next(t, r, "the 50 KB IDR")

	dec := &rtph264.Decoder{}
	if err := dec.Init(); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := range it.Unit.Packets {
		p := &it.Unit.Packets[i]
		if len(p.Payload) > payloadMaxSize {
			t.Fatalf("payload of %d bytes exceeds %d", len(p.Payload), payloadMaxSize)
		}
		nalus, err := dec.Decode(p)
		if err == nil {
			out = nalus
		}
	}
	if len(out) != 3 || len(out[2]) != 50000 {
		t.Fatalf("depacketized %d NALUs, want SPS, PPS and the 50000-byte IDR", len(out))
	}
}

func TestReaderLimitAndClose(t *testing.T) {
	s := New("cam", Options{MaxReaders: 2})
	a, _ := s.Subscribe()
	if _, err := s.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(); err != ErrTooManyReaders {
		t.Fatalf("third reader: %v, want ErrTooManyReaders", err)
	}
	a.Close()
	a.Close()
	if s.Readers() != 1 {
		t.Fatalf("%d readers after one closed", s.Readers())
	}
	s.Close()
	if _, err := s.Subscribe(); err != ErrClosed {
		t.Fatalf("subscribe after close: %v", err)
	}
}

func BenchmarkWriteAccessUnit(b *testing.B) {
	for _, viewers := range []int{0, 1, 10} {
		b.Run(strconv.Itoa(viewers)+"viewers", func(b *testing.B) {
			s := New("cam", Options{QueueLen: 1 << 16})
			var rs []*Reader
			for i := 0; i < viewers; i++ {
				r, _ := s.Subscribe()
				rs = append(rs, r)
			}
			// A 1080p camera at 4 Mbit/s: a P-frame is about 16 KB, an IDR
			// every 2 s about 100 KB.
			unit, idr := au(false, 16000), au(true, 100000)
			b.SetBytes((59*16000 + 100000) / 60)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%60 == 0 {
					s.WriteAccessUnit(&capture.AccessUnit{NALUs: idr, PTS: int64(i) * 3000, IDR: true, Session: 1})
				} else {
					s.WriteAccessUnit(&capture.AccessUnit{NALUs: unit, PTS: int64(i) * 3000, IDR: false, Session: 1})
				}
				for _, r := range rs {
					select {
					case <-r.C():
					default:
					}
				}
			}
		})
	}
}

func TestDecoderReadersDoNotTakeViewerPlaces(t *testing.T) {
	s := New("cam", Options{MaxReaders: 1})
	dec, err := s.SubscribeDecoder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(); err != nil {
		t.Fatalf("a viewer was refused because a decoder reads the stream: %v", err)
	}
	if s.Viewers() != 1 || s.Readers() != 2 {
		t.Fatalf("viewers %d readers %d, want 1 and 2", s.Viewers(), s.Readers())
	}
	dec.Close()
	if s.Viewers() != 1 || s.Readers() != 1 {
		t.Fatalf("after the decoder left: viewers %d readers %d", s.Viewers(), s.Readers())
	}
}

func TestTimestampsAfterAnOutageAdvanceByTheOutage(t *testing.T) {
	s := New("cam", Options{})
	r, _ := s.Subscribe()
	start := time.Now()
	s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(true, 100), IDR: true, Session: 1, Received: start})
	// The camera comes back 3 s later with a new session.
	s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(true, 100), PTS: 777, IDR: true, Session: 2, Received: start.Add(3 * time.Second)})
	a, b := next(t, r, "the unit before the outage"), next(t, r, "the unit after the outage")
	if d := b.TS - a.TS; d != 3*90000 {
		t.Fatalf("timestamps %d ticks apart after a 3 s outage, want %d", d, 3*90000)
	}
}

// TestPacketizerMatchesGortsplibEncoder checks the allocation-free packetizer
// against the encoder it replaced: the same payloads for single NALUs,
// STAP-A aggregates (SPS+PPS, small slices) and FU-A fragments, and a marker
// on the last packet only.
func TestPacketizerMatchesGortsplibEncoder(t *testing.T) {
	units := [][][]byte{
		au(true, 50000),
		au(false, 20000),
		au(false, 100),
		{{0x09, 0xf0}, {0x06, 0x05, 0x01, 0x80}, make([]byte, 1186), {}, make([]byte, 1187), make([]byte, 1188), make([]byte, 2374), make([]byte, 2375)},
		{make([]byte, 500), make([]byte, 500), make([]byte, 500)},
	}
	for _, u := range units[3:] {
		for _, n := range u {
			if len(n) > 0 && n[0] == 0 {
				n[0] = 0x41
			}
		}
	}
	enc := &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: payloadMaxSize, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	p := packetizer{maxPayload: payloadMaxSize}
	for i, u := range units {
		var nonEmpty [][]byte
		for _, n := range u {
			if len(n) > 0 {
				nonEmpty = append(nonEmpty, n)
			}
		}
		want, err := enc.Encode(nonEmpty)
		if err != nil {
			t.Fatal(err)
		}
		got := p.packetize(capture.CodecH264, u, nil)
		if len(got.packets) != len(want) {
			t.Fatalf("unit %d: %d packets, want %d", i, len(got.packets), len(want))
		}
		for k := range want {
			g, w := got.packets[k], want[k]
			// STAP-A carries the highest NRI of its NALUs (RFC 6184); the
			// old encoder left it 0.
			gp := append([]byte(nil), g.Payload...)
			if gp[0]&0x1f == naluTypeSTAPA {
				gp[0] &^= 0x60
			}
			if string(gp) != string(w.Payload) || g.Marker != w.Marker {
				t.Fatalf("unit %d packet %d differs (marker %v, want %v)", i, k, g.Marker, w.Marker)
			}
		}
		var annexB []byte
		for _, n := range nonEmpty {
			annexB = append(append(annexB, 0, 0, 0, 1), n...)
		}
		if back := (&Unit{Packets: got.packets}).AppendAnnexB(nil); !bytes.Equal(back, annexB) {
			t.Fatalf("unit %d: the NALUs read back from the packets differ from the camera's", i)
		}
	}
}

// A new reader's cached GOP is marked as such (the WebRTC writer paces it),
// and the live units after it are not.
func TestCachedUnitsAreMarkedLiveOnesAreNot(t *testing.T) {
	s := New("cam", Options{})
	defer s.Close()
	s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(true, 100), IDR: true, Session: 1, Received: time.Now()})
	s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(false, 100), PTS: 3000, IDR: false, Session: 1, Received: time.Now()})
	r, err := s.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(false, 100), PTS: 6000, IDR: false, Session: 1, Received: time.Now()})
	for i, want := range []bool{true, true, false} {
		if it := next(t, r, "item "+strconv.Itoa(i)); it.Cached != want {
			t.Fatalf("item %d: Cached %v, want %v", i, it.Cached, want)
		}
	}
}

// A reader that has caught up takes live units straight from the writer,
// in order, and only after its queue is empty; after Close it gets nothing.
func TestDirectReaderTakesUnitsInOrderOnceCaughtUp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cached    int // units fed before subscribing (0: the reader waits for an IDR)
		wantFirst bool
	}{
		{"with a cached GOP", 30, false},
		{"waiting for the first IDR", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New("cam", Options{})
			feed(s, 0, tc.cached, 25, 1)
			r, err := s.Subscribe()
			if err != nil {
				t.Fatal(err)
			}
			var got []Item
			write := func(it Item) { got = append(got, it) }
			if tc.cached > 0 {
				if r.Direct(write) {
					t.Fatal("Direct accepted with units still queued")
				}
				for len(r.C()) > 0 {
					<-r.C()
				}
			}
			if !r.Direct(write) {
				t.Fatal("Direct refused with an empty queue")
			}
			// Units 30..54 when cached (IDR at 50), else 0..24 with the
			// IDR first; a reader without cache must skip none of them but
			// the P-frames before its first IDR.
			from := tc.cached
			if !tc.wantFirst {
				feed(s, from, 25, 25, 1)
			} else {
				feed(s, 1, 3, 25, 1) // P-frames: not for a reader waiting for an IDR
				feed(s, 25, 25, 25, 1)
			}
			if len(r.C()) != 0 {
				t.Fatalf("%d units queued for a direct reader", len(r.C()))
			}
			if len(got) != 25 {
				t.Fatalf("direct reader got %d units, want 25", len(got))
			}
			if tc.wantFirst && !got[0].Unit.IDR {
				t.Fatal("a reader waiting for an IDR got a P-frame first")
			}
			for i := 1; i < len(got); i++ {
				if d := got[i].TS - got[i-1].TS; d != 3600 {
					t.Fatalf("units %d and %d are %d ticks apart, want 3600 (in order, none missing)", i-1, i, d)
				}
			}
			r.Close()
			feed(s, 100, 5, 25, 1)
			if len(got) != 25 {
				t.Fatalf("closed direct reader got %d more units", len(got)-25)
			}
			if left := drain(t, r); len(left) != 0 {
				t.Fatalf("queue of a closed reader held %d more units", len(left))
			}
			if r.Direct(write) {
				t.Fatal("Direct accepted on a closed reader")
			}
		})
	}
}

func TestRecentKnowsTheLastUnitsByTimestamp(t *testing.T) {
	s := New("cam", Options{})
	defer s.Close()
	start := time.Now()
	var ts []uint32
	r, _ := s.SubscribeDecoder()
	defer r.Close()
	for i := 0; i < recentUnits+10; i++ {
		s.WriteAccessUnit(&capture.AccessUnit{NALUs: au(i%25 == 0, 100), PTS: int64(i) * 3600, IDR: i%25 == 0, Session: 1, Received: start.Add(time.Duration(i) * time.Millisecond)})
		for len(r.C()) > 0 {
			it := <-r.C()
			ts = append(ts, it.Unit.TS)
		}
	}
	last := ts[len(ts)-1]
	if got, ok := s.Recent(last); !ok || !got.Equal(start.Add(time.Duration(recentUnits+9)*time.Millisecond)) {
		t.Errorf("Recent(newest) = %v, %v", got, ok)
	}
	if _, ok := s.Recent(ts[len(ts)-recentUnits]); !ok {
		t.Error("the oldest unit still remembered is not found")
	}
	if _, ok := s.Recent(ts[len(ts)-recentUnits-1]); ok {
		t.Error("a unit older than the last recentUnits is still found")
	}
	if _, ok := s.Recent(last + 1); ok {
		t.Error("a timestamp no unit had is found")
	}
}
