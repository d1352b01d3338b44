package whep

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/whep/wheptest"
)

// startWebRTC runs a WebRTC egress until the test ends.
func startWebRTC(tb testing.TB, cfg Config, log *slog.Logger) (*Server, context.Context) {
	tb.Helper()
	w, err := NewServer(cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return w, ctx
}

// loopbackPeer is a browser stand-in: a pion PeerConnection with one
// receive-only video transceiver on loopback (wheptest). tweak may adjust
// its settings; the test's end closes it.
func loopbackPeer(tb testing.TB, tweak func(*webrtc.SettingEngine)) *webrtc.PeerConnection {
	tb.Helper()
	return wheptest.Viewer(tb, wheptest.LoopbackAPI(tb, tweak), 1)
}

// offerOf makes pc's offer with all its candidates, as a browser posts it.
func offerOf(tb testing.TB, pc *webrtc.PeerConnection) string {
	tb.Helper()
	return wheptest.Offer(tb, pc)
}

// connectPeer posts pc's offer to w as a viewer of st and applies the
// answer; it returns the session id.
func connectPeer(tb testing.TB, ctx context.Context, w *Server, st *stream.Stream, pc *webrtc.PeerConnection, opts ...OfferOption) string {
	tb.Helper()
	answer, id, err := w.Offer(ctx, st, offerOf(tb, pc), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		tb.Fatal(err)
	}
	return id
}

// au builds a fake access unit: an IDR (type 5) or a non-IDR slice (type 1)
// of the given size, with SPS and PPS in front of an IDR as capture puts them.
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
func feed(st *stream.Stream, from, n, gop int, session uint64) {
	for i := from; i < from+n; i++ {
		st.WriteAccessUnit(&capture.AccessUnit{NALUs: au(i%gop == 0, 3000), PTS: int64(i) * 3600, IDR: i%gop == 0, Session: session, Received: time.Now()})
	}
}

// trackPackets hands out the RTP packets pc receives on its tracks, in a
// channel of the given capacity.
func trackPackets(pc *webrtc.PeerConnection, capacity int) <-chan *rtp.Packet {
	packets := make(chan *rtp.Packet, capacity)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			packets <- p
		}
	})
	return packets
}
