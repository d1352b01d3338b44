package whep

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/whep/wheptest"
)

// feedSized writes n units of one camera whose slices are size bytes, an
// IDR every gop units: a test tells the cameras apart by it.
func feedSized(st *stream.Stream, from, n, gop, size int) {
	for i := from; i < from+n; i++ {
		st.WriteAccessUnit(&capture.AccessUnit{NALUs: au(i%gop == 0, size), PTS: int64(i) * 3600, IDR: i%gop == 0, Session: 1, Received: time.Now()})
	}
}

// midPackets hands out the packets pc receives, with the mid of the
// transceiver each came on.
type midPacket struct {
	mid string
	p   *rtp.Packet
}

func midPackets(pc *webrtc.PeerConnection, capacity int) <-chan midPacket {
	packets := make(chan midPacket, capacity)
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		mid := wheptest.Mid(pc, r)
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case packets <- midPacket{mid, p}:
			default: // the test stopped reading
			}
		}
	})
	return packets
}

// A wall asks for its cameras in one offer: each camera plays on the video
// section it was named for, one camera's session ends alone, and the
// viewer's leaving ends them all.
func TestOneOfferPlaysEachCameraOnItsOwnSection(t *testing.T) {
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
	sizes := map[string]int{"0": 500, "1": 700, "2": 900} // slice size by mid
	var sts []*stream.Stream
	for _, name := range []string{"a", "b", "c"} {
		st := stream.New(name, stream.Options{})
		defer st.Close()
		sts = append(sts, st)
	}
	for i, st := range sts {
		feedSized(st, 0, 3, 25, sizes[string(rune('0'+i))])
	}

	pc := wheptest.Viewer(t, wheptest.LoopbackAPI(t, nil), 3)
	packets := midPackets(pc, 4096)
	answer, ids, err := w.OfferMany(ctx, sts, offerOf(t, pc), WithStart(StartKeyframe))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || w.Sessions() != 3 {
		t.Fatalf("%d ids, %d sessions; want 3 of each", len(ids), w.Sessions())
	}

	// wantSlices reads until every mid in want has had a slice, checking
	// that each slice has its camera's size.
	wantSlices := func(want ...string) {
		t.Helper()
		seen := map[string]bool{}
		deadline := time.After(10 * time.Second)
		for len(seen) < len(want) {
			select {
			case mp := <-packets:
				if len(mp.p.Payload) < 100 {
					continue // parameter sets
				}
				// A keyframe comes aggregated with its SPS and PPS (STAP-A).
				if n := len(mp.p.Payload); n != sizes[mp.mid] && n != sizes[mp.mid]+15 {
					t.Fatalf("section %s got a %d-byte slice; its camera sends %d", mp.mid, n, sizes[mp.mid])
				}
				for _, m := range want {
					if m == mp.mid {
						seen[m] = true
					}
				}
			case <-deadline:
				t.Fatalf("after 10 s, slices on %v of %v", seen, want)
			}
		}
	}
	wantSlices("0", "1", "2") // the cached keyframes

	if err := w.Close("b", ids[1]); err != nil {
		t.Fatal(err)
	}
	if w.Sessions() != 2 {
		t.Fatalf("%d sessions after closing one of three", w.Sessions())
	}
	for i, st := range sts {
		feedSized(st, 3, 23, 25, sizes[string(rune('0'+i))]) // up to the next IDR
	}
	for len(packets) > 0 {
		<-packets
	}
	for i, st := range sts {
		feedSized(st, 25, 3, 25, sizes[string(rune('0'+i))])
	}
	wantSlices("0", "2")
	if s := pc.ConnectionState(); s != webrtc.PeerConnectionStateConnected {
		t.Fatalf("the viewer's connection is %s with two sessions left", s)
	}

	_ = pc.Close()
	deadline := time.Now().Add(15 * time.Second)
	for w.Sessions() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions left 15 s after the viewer left", w.Sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOfferManyRefusesWhatItCannotPlay(t *testing.T) {
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
	h264 := stream.New("a", stream.Options{})
	defer h264.Close()
	feed(h264, 0, 1, 25, 1)
	h265 := stream.New("b", stream.Options{Codec: capture.CodecH265})
	defer h265.Close()

	one := offerOf(t, loopbackPeer(t, nil)) // one video section
	for _, tc := range []struct {
		name string
		sts  []*stream.Stream
	}{
		{"more cameras than video sections", []*stream.Stream{h264, h264}},
		{"cameras of two codecs", []*stream.Stream{h264, h265}},
		{"no camera", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := w.OfferMany(ctx, tc.sts, one)
			if !errors.Is(err, ErrBadOffer) {
				t.Fatalf("err = %v, want ErrBadOffer", err)
			}
			if w.Sessions() != 0 || h264.Readers() != 0 {
				t.Fatalf("%d sessions and %d readers left", w.Sessions(), h264.Readers())
			}
		})
	}
}

// A camera that goes away (a reload removed or changed it) ends its own
// session: its track falls silent, sender reports and all, which is how a
// browser tells a session that ended from a camera between two keyframes,
// while the other cameras of the connection play on.
func TestAStreamThatEndsSilencesItsTrackAlone(t *testing.T) {
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
	var sts []*stream.Stream
	for _, name := range []string{"a", "b"} {
		st := stream.New(name, stream.Options{})
		defer st.Close()
		feed(st, 0, 3, 25, 1)
		sts = append(sts, st)
	}
	pc := wheptest.Viewer(t, wheptest.LoopbackAPI(t, nil), 2)
	// Sender reports by the mid of the section they describe.
	var mu sync.Mutex
	reports := map[string]int{}
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		mid := wheptest.Mid(pc, r)
		go func() {
			for {
				pkts, _, err := r.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.SenderReport); ok {
						mu.Lock()
						reports[mid]++
						mu.Unlock()
					}
				}
			}
		}()
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	answer, _, err := w.OfferMany(ctx, sts, offerOf(t, pc))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	count := func(mid string) int {
		mu.Lock()
		defer mu.Unlock()
		return reports[mid]
	}
	deadline := time.Now().Add(10 * time.Second)
	for count("0") == 0 || count("1") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sender reports after 10 s: %d and %d", count("0"), count("1"))
		}
		time.Sleep(50 * time.Millisecond)
	}

	sts[1].Close()
	deadline = time.Now().Add(5 * time.Second)
	for w.Sessions() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions 5 s after one camera's stream ended, want 1", w.Sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond) // a report under way may still come
	a, b := count("0"), count("1")
	time.Sleep(2500 * time.Millisecond)
	if got := count("1") - b; got != 0 {
		t.Errorf("the ended session's track sent %d sender reports in 2.5 s, want none", got)
	}
	if got := count("0") - a; got < 1 {
		t.Errorf("the other camera's track sent %d sender reports in 2.5 s, want its one a second", got)
	}
	if s := pc.ConnectionState(); s != webrtc.PeerConnectionStateConnected {
		t.Errorf("the connection is %s; the other camera's session still plays on it", s)
	}
}
