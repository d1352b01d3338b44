package whep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
)

// An offer the viewer could not play from is refused, and the refusal
// leaves nothing behind: no session and no reader on the camera's stream.
// A session answered for an offer whose only H.264 is
// packetization-mode=0 would carry FU-A packets the browser drops, a black
// tile that says it is live; refusing it lets the page fall back to JPEG.
func TestUnusableOfferIsRefusedWithNothingLeft(t *testing.T) {
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
	var manyCandidates strings.Builder
	for i := range MaxRemoteCandidates + 1 {
		fmt.Fprintf(&manyCandidates, "a=candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host\r\n", i+2, 50001+i)
	}
	for _, tc := range []struct {
		name   string
		camera capture.Codec
		offer  string
		codec  bool // refused as a CodecError (406), not as ErrBadOffer (400)
	}{
		{"only packetization-mode=0", capture.CodecH264,
			strings.ReplaceAll(staticOffer, "packetization-mode=1", "packetization-mode=0"), true},
		{"H.264 without packetization-mode", capture.CodecH264,
			strings.ReplaceAll(staticOffer, "packetization-mode=1;", ""), true},
		{"no H.264 at all", capture.CodecH264,
			strings.NewReplacer("a=rtpmap:102 H264/90000", "a=rtpmap:102 VP9/90000", "a=fmtp:102 ", "a=fmtp:102 x=").Replace(staticOffer), true},
		{"H.264 only for an H.265 camera", capture.CodecH265, staticOffer, true},
		{"no video section", capture.CodecH264,
			strings.ReplaceAll(staticOffer, "m=video", "m=audio"), false},
		{"more candidates than a browser sends", capture.CodecH264,
			strings.Replace(staticOffer, "a=ice-ufrag:", manyCandidates.String()+"a=ice-ufrag:", 1), false},
		{"not SDP", capture.CodecH264, "m=video \x00\xff garbage", false},
		{"no ICE credentials or fingerprint", capture.CodecH264,
			strings.NewReplacer("a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n", "", "a=fingerprint:sha-256", "a=x:").Replace(staticOffer), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := stream.New("cam", stream.Options{Codec: tc.camera})
			defer st.Close()
			// Offer never waits on the network for a refusal; the deadline
			// only turns a hang into a failure.
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, id, err := w.Offer(octx, st, tc.offer)
			if err == nil {
				_ = w.Close("cam", id)
				t.Fatal("the offer got a session")
			}
			var codecErr *CodecError
			switch {
			case tc.codec && (!errors.As(err, &codecErr) || codecErr.Codec != tc.camera):
				t.Fatalf("refused with %v, want a CodecError for %s", err, tc.camera)
			case !tc.codec && !errors.Is(err, ErrBadOffer):
				t.Fatalf("refused with %v, want ErrBadOffer", err)
			}
			if n, r := w.Sessions(), st.Readers(); n != 0 || r != 0 {
				t.Fatalf("after the refusal: %d sessions, %d stream readers, want none", n, r)
			}
		})
	}
	// The refusals cost the server nothing it needs: a usable offer still
	// gets its session.
	st := stream.New("cam", stream.Options{})
	defer st.Close()
	_, id, err := w.Offer(ctx, st, staticOffer)
	if err != nil {
		t.Fatalf("a browser's offer after the refusals: %v", err)
	}
	if err := w.Close("cam", id); err != nil {
		t.Fatal(err)
	}
}

// webrtc.max_viewers caps the sessions of all cameras together: an offer
// beyond it is refused (503 with Retry-After at the HTTP level) without
// a reader on the stream, and a closed session frees its place.
func TestSessionsBeyondTheServersCapAreRefused(t *testing.T) {
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}, MaxSessions: 2}, nil)
	st := stream.New("cam", stream.Options{})
	defer st.Close()
	var ids []string
	for range 2 {
		_, id, err := w.Offer(ctx, st, staticOffer)
		if err != nil {
			t.Fatalf("an offer within the cap: %v", err)
		}
		ids = append(ids, id)
	}
	if _, _, err := w.Offer(ctx, st, staticOffer); !errors.Is(err, ErrTooManySessions) {
		t.Fatalf("a third offer with a cap of 2: %v, want ErrTooManySessions", err)
	}
	if n := st.Readers(); n != 2 {
		t.Fatalf("%d stream readers after the refusal, want the 2 sessions'", n)
	}
	if err := w.Close("cam", ids[0]); err != nil {
		t.Fatal(err)
	}
	_, id, err := w.Offer(ctx, st, staticOffer)
	if err != nil {
		t.Fatalf("an offer after a session closed: %v", err)
	}
	for _, id := range []string{ids[1], id} {
		if err := w.Close("cam", id); err != nil {
			t.Fatal(err)
		}
	}
}
