package whep

import (
	"testing"
	"time"

	"github.com/edgecam/edgecam/stream"
)

func TestParseStart(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Start
		ok   bool
	}{
		{"", StartGOP, true},
		{"gop", StartGOP, true},
		{"keyframe", StartKeyframe, true},
		{"Keyframe", StartGOP, false},
		{"idr", StartGOP, false},
	} {
		got, err := ParseStart(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseStart(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// A keyframe start gives a wall of cameras its first pictures without a
// GOP to decode per camera: the cached keyframe (and its repeats), then
// nothing until the camera's next one, with no gap in the sequence numbers
// (a gap would be NACKed) and timestamps that never go back. A short GOP
// so far, and the default start, go out whole.
func TestKeyframeStartSendsTheCachedKeyframeAndThenTheNext(t *testing.T) {
	const gop = 25
	now := []time.Duration{0, 0} // two repeats, due at once
	for _, tc := range []struct {
		name    string
		start   Start
		cached  int
		repeats []time.Duration
		// units the viewer gets of those fed until the next IDR and 5 after
		// it: true for an IDR
		want []bool
	}{
		{"keyframe start, long GOP", StartKeyframe, 10, nil, idrs(1, 0, 1, 4)},
		{"keyframe start, its keyframe repeated", StartKeyframe, 10, now, idrs(3, 0, 1, 4)},
		{"keyframe start, short GOP", StartKeyframe, keyframeStartKeep, now, idrs(1, keyframeStartKeep-1+gop-keyframeStartKeep, 1, 4)},
		{"GOP start", StartGOP, 10, now, idrs(1, gop-1, 1, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
			w.keyframeRepeats = tc.repeats
			st := stream.New("cam", stream.Options{})
			defer st.Close()
			feed(st, 0, tc.cached, gop, 1)

			pc := loopbackPeer(t, nil)
			packets := trackPackets(pc, 4096)
			connectPeer(t, ctx, w, st, pc, WithStart(tc.start))
			deadline := time.Now().Add(10 * time.Second)
			for directSessions(w) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the session never caught up")
				}
				time.Sleep(10 * time.Millisecond)
			}
			feed(st, tc.cached, gop+5-tc.cached, gop, 1) // up to the next IDR and 4 after it

			var got []bool
			var last uint16
			var lastTS uint32
			idr := false
			for n := 0; len(got) < len(tc.want); n++ {
				select {
				case p := <-packets:
					if n > 0 && p.SequenceNumber != last+1 {
						t.Fatalf("packet %d has sequence number %d after %d", n, p.SequenceNumber, last)
					}
					last = p.SequenceNumber
					if n > 0 && int32(p.Timestamp-lastTS) < 0 {
						t.Fatalf("packet %d has timestamp %d after %d", n, p.Timestamp, lastTS)
					}
					lastTS = p.Timestamp
					idr = idr || startsIDR(p.Payload)
					if p.Marker {
						got = append(got, idr)
						idr = false
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%d of %d units arrived: %v", len(got), len(tc.want), got)
				}
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("units (IDR or not) %v, want %v", got, tc.want)
				}
			}
			select {
			case p := <-packets:
				t.Fatalf("an extra packet arrived (sequence number %d)", p.SequenceNumber)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

// idrs lists a run of units: a IDRs, b others, c IDRs, d others.
func idrs(a, b, c, d int) []bool {
	var out []bool
	for _, run := range []struct {
		n   int
		idr bool
	}{{a, true}, {b, false}, {c, true}, {d, false}} {
		for range run.n {
			out = append(out, run.idr)
		}
	}
	return out
}

// startsIDR reports whether an H.264 RTP payload carries an IDR slice or
// the parameter sets in front of one.
func startsIDR(payload []byte) bool {
	if len(payload) < 2 {
		return false
	}
	switch t := payload[0] & 0x1f; t {
	case 28: // FU-A
		t = payload[1] & 0x1f
		return t == 5
	case 5, 7, 8, 24: // IDR, SPS, PPS, STAP-A of them
		return true
	}
	return false
}

// The repeats come due one at a time, each stamped with the time since the
// keyframe first went out.
func TestKeyframeRepeatsComeDueInTurn(t *testing.T) {
	key := &stream.Unit{IDR: true}
	k := keyframeOnly{on: true, repeats: []time.Duration{300 * time.Millisecond, 900 * time.Millisecond}}
	if k.skip(stream.Item{Unit: key, TS: 1000, Cached: true}) {
		t.Fatal("the cached keyframe was skipped")
	}
	t0 := time.Now()
	k.sentAt = t0
	for _, tc := range []struct {
		at     time.Duration
		due    bool
		wantTS uint32
	}{
		{100 * time.Millisecond, false, 0},
		{300 * time.Millisecond, true, 1000 + 300*90},
		{301 * time.Millisecond, false, 0},
		{1000 * time.Millisecond, true, 1000 + 1000*90},
		{5 * time.Second, false, 0},
	} {
		got, due := k.again(t0.Add(tc.at))
		if due != tc.due || (due && (got.Unit != key || got.TS != tc.wantTS)) {
			t.Errorf("at %v: due %v, ts %d; want due %v, ts %d", tc.at, due, got.TS, tc.due, tc.wantTS)
		}
	}
	// The camera's next keyframe ends the start: no repeat after it.
	k = keyframeOnly{on: true, repeats: []time.Duration{0}}
	k.skip(stream.Item{Unit: key, TS: 1000, Cached: true})
	k.skip(stream.Item{Unit: &stream.Unit{IDR: true}, TS: 9000})
	if _, due := k.again(time.Now().Add(time.Second)); due {
		t.Error("a repeat after the camera's next keyframe")
	}
}
