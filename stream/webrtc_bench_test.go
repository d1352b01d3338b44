package stream

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// benchViewer connects one pion peer on loopback to w as a viewer of st and
// returns the daemon-side session once its DTLS is up. The peer reads its
// track into one reused buffer, so the receiving side adds as little as it
// can to what the benchmark measures.
func benchViewer(b *testing.B, w *WebRTC, st *Stream) *session {
	b.Helper()
	se := webrtc.SettingEngine{LoggerFactory: &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		b.Fatal(err)
	}
	// No interceptors on the receiving side: their allocations would be
	// counted as the sender's.
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		b.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answer, id, err := w.Offer(ctx, st, pc.LocalDescription().SDP)
	if err != nil {
		b.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		b.Fatal(err)
	}
	w.mu.Lock()
	s := w.sessions[id]
	w.mu.Unlock()
	select {
	case <-s.connected:
	case <-ctx.Done():
		b.Fatal("viewer did not connect")
	}
	// Let DTLS finish on the sender's side too before measuring.
	time.Sleep(200 * time.Millisecond)
	return s
}

// BenchmarkSessionWrite measures one viewer's per-packet path: the session
// rewrites sequence number and timestamp and hands each packet of a 20 KB
// access unit (a 1080p P-frame at 4 Mbit/s) to pion, which runs the NACK and
// RTCP-report interceptors, encrypts it with SRTP and writes it to the UDP
// port. A peer on loopback receives it in the same process, without
// interceptors, so allocations counted are the sender's.
func BenchmarkSessionWrite(b *testing.B) {
	w, err := NewWebRTC(WebRTCConfig{Interfaces: []string{"lo"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	st := New("cam", Options{})
	defer st.Close()
	s := benchViewer(b, w, st)

	unit := benchUnit(au(false, 20000))
	var sw sessionWriter
	b.SetBytes(int64(unit.Bytes))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sw.write(s.track, Item{Unit: unit, TS: unit.TS}) // live: unpaced
		if i%8 == 7 {
			// Keep the loopback socket from overflowing: a camera sends
			// 30 units a second, not millions.
			b.StopTimer()
			time.Sleep(time.Millisecond)
			b.StartTimer()
		}
	}
}

// benchUnit returns nalus as one Unit, packetized as a Stream does.
func benchUnit(nalus [][]byte) *Unit {
	st := New("cam", Options{})
	defer st.Close()
	r, _ := st.SubscribeDecoder()
	st.WriteAccessUnit(au(true, 100), 0, true, 1, time.Time{})
	<-r.C()
	st.WriteAccessUnit(nalus, 3000, false, 1, time.Time{})
	return (<-r.C()).Unit
}
