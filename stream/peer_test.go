package stream

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// startWebRTC runs a WebRTC egress until the test ends.
func startWebRTC(tb testing.TB, cfg WebRTCConfig, log *slog.Logger) (*WebRTC, context.Context) {
	tb.Helper()
	w, err := NewWebRTC(cfg, log)
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
// receive-only video transceiver, ICE on lo only, no mDNS and no
// interceptors (their work would count as the sender's in benchmarks).
// tweak may adjust its settings; the test's end closes it.
func loopbackPeer(tb testing.TB, tweak func(*webrtc.SettingEngine)) *webrtc.PeerConnection {
	tb.Helper()
	se := webrtc.SettingEngine{LoggerFactory: &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	if tweak != nil {
		tweak(&se)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		tb.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		tb.Fatal(err)
	}
	return pc
}

// offerOf makes pc's offer with all its candidates, as a browser posts it.
func offerOf(tb testing.TB, pc *webrtc.PeerConnection) string {
	tb.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		tb.Fatal("offer: ICE gathering did not complete")
	}
	return pc.LocalDescription().SDP
}

// connectPeer posts pc's offer to w as a viewer of st and applies the
// answer; it returns the session id.
func connectPeer(tb testing.TB, ctx context.Context, w *WebRTC, st *Stream, pc *webrtc.PeerConnection) string {
	tb.Helper()
	answer, id, err := w.Offer(ctx, st, offerOf(tb, pc))
	if err != nil {
		tb.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		tb.Fatal(err)
	}
	return id
}
