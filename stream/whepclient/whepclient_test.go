package whepclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/stream/whep/wheptest"
)

// whepSender is a WHEP endpoint of pion's own with one H.264 track and no
// NACK responder, on loopback only: what it does not send stays lost.
type whepSender struct {
	track *webrtc.TrackLocalStaticRTP
	api   *webrtc.API
	pcs   chan *webrtc.PeerConnection
}

func newWHEPSender(t *testing.T) (*whepSender, *httptest.Server) {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, "video", "test")
	if err != nil {
		t.Fatal(err)
	}
	s := &whepSender{track: track, api: wheptest.LoopbackAPI(t, nil), pcs: make(chan *webrtc.PeerConnection, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusOK) // the player's DELETE
			return
		}
		offer, _ := io.ReadAll(r.Body)
		pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.pcs <- pc
		_, _ = pc.AddTrack(track)
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer, _ := pc.CreateAnswer(nil)
		gathered := webrtc.GatheringCompletePromise(pc)
		_ = pc.SetLocalDescription(answer)
		<-gathered
		w.Header().Set("Location", "/session")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, pc.LocalDescription().SDP)
	}))
	t.Cleanup(func() {
		srv.Close()
		select {
		case pc := <-s.pcs:
			pc.Close()
		default:
		}
	})
	return s, srv
}

// frame sends one access unit as one packet with sequence number seq.
func (s *whepSender) frame(t *testing.T, seq uint16, idr bool) {
	t.Helper()
	nalu := []byte{0x41, 0x9a, byte(seq)} // a non-IDR slice
	if idr {
		nalu[0] = 0x65
	}
	if err := s.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true}, Payload: nalu}); err != nil {
		t.Fatal(err)
	}
}

// A packet that is never resent holds up the frames behind it for the
// player's wait only, even when nothing arrives after them; the frame it
// may have belonged to is dropped, not handed out with a hole.
func TestPlayerReleasesFramesBehindAPacketThatNeverComes(t *testing.T) {
	s, srv := newWHEPSender(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, srv.URL+"/whep", Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Frames go out until the player has the track and has read one.
	seq := uint16(100)
	for got := false; !got; {
		s.frame(t, seq, true)
		seq++
		select {
		case <-c.Units():
			got = true
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the player got no frame within 10 s")
		}
	}
	for len(c.Units()) > 0 { // the others sent meanwhile
		<-c.Units()
	}
	time.Sleep(50 * time.Millisecond)
	for len(c.Units()) > 0 {
		<-c.Units()
	}

	s.frame(t, seq, false)
	s.frame(t, seq+2, false) // seq+1 is never sent: it may have been seq+2's start
	s.frame(t, seq+3, false)
	sent := time.Now()

	want := []byte{byte(seq), byte(seq + 3)}
	for i, w := range want {
		select {
		case au := <-c.Units():
			if got := au.NALUs[0][2]; got != w {
				t.Fatalf("frame %d: the one sent as %d, want %d", i, got, w)
			}
			if i == 1 {
				if wait := time.Since(sent); wait < reorderWait/2 {
					t.Errorf("the frame after the gap came after %v: it was not held for the resend", wait)
				}
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("frame %d (sent as %d) never came: the frames behind the gap were not released", i, w)
		}
	}
	if lost := c.Lost(); lost != 1 {
		t.Errorf("Lost() = %d, want 1", lost)
	}
}
