// Package wheptest is the WebRTC peer edgecam's tests stand in for a
// browser or a camera with: pion on loopback only (lo, UDP4, no mDNS), so
// that no test touches the machine's real interfaces.
package wheptest

import (
	"io"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// LoopbackAPI returns a pion API whose peers do ICE on lo only, with the
// default codecs, no interceptors (their work would count as the other
// side's in benchmarks) and no logs. tweak, if not nil, adjusts its
// settings.
func LoopbackAPI(tb testing.TB, tweak func(*webrtc.SettingEngine)) *webrtc.API {
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
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

// Viewer returns a peer connection of api with sections receive-only
// video transceivers, as a browser's tile (one) or wall (several) has; the
// test's end closes it.
func Viewer(tb testing.TB, api *webrtc.API, sections int) *webrtc.PeerConnection {
	tb.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = pc.Close() })
	for range sections {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			tb.Fatal(err)
		}
	}
	return pc
}

// Offer makes pc's offer with all its candidates, as a browser posts it.
func Offer(tb testing.TB, pc *webrtc.PeerConnection) string {
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

// Mid returns the mid of the section r receives on: which camera of a
// wall a track plays.
func Mid(pc *webrtc.PeerConnection, r *webrtc.RTPReceiver) string {
	for _, t := range pc.GetTransceivers() {
		if t.Receiver() == r {
			return t.Mid()
		}
	}
	return ""
}
