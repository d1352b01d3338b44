package stream

import (
	"testing"
	"time"
)

func TestViewerThatNeverConnectsIsDropped(t *testing.T) {
	w, ctx := startWebRTC(t, WebRTCConfig{UDPPort: 0, Interfaces: []string{"lo"}, ConnectTimeout: time.Second}, nil)

	st := New("cam", Options{})
	// The offer's peer is gone before the answer: it will never do ICE.
	if _, _, err := w.Offer(ctx, st, browserOffer(t)); err != nil {
		t.Fatal(err)
	}
	if w.Sessions() != 1 || st.Viewers() != 1 {
		t.Fatalf("sessions %d viewers %d after the offer", w.Sessions(), st.Viewers())
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (w.Sessions() != 0 || st.Readers() != 0) {
		time.Sleep(50 * time.Millisecond)
	}
	if w.Sessions() != 0 || st.Readers() != 0 {
		t.Fatalf("a session that never connected is still there: sessions %d readers %d", w.Sessions(), st.Readers())
	}
}
