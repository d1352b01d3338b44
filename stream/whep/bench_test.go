package whep

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
)

// benchViewer connects one pion peer on loopback to w as a viewer of st and
// returns the daemon-side session once its DTLS is up. The peer reads its
// track into one reused buffer, so the receiving side adds as little as it
// can to what the benchmark measures.
func benchViewer(b *testing.B, w *Server, st *stream.Stream) *session {
	b.Helper()
	pc := loopbackPeer(b, nil)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := connectPeer(b, ctx, w, st, pc)
	w.mu.Lock()
	s := w.sessions[id]
	w.mu.Unlock()
	select {
	case <-s.peer.connected:
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
// RTCP-report interceptors, encrypts it with SRTP and queues it in the
// viewer's send batch, which leaves in GSO sends once the unit is written
// (udpbatch.go). A peer on loopback receives it in the same process, without
// interceptors, so allocations counted are the sender's.
func BenchmarkSessionWrite(b *testing.B) {
	w, _ := startWebRTC(b, Config{Interfaces: []string{"lo"}}, nil)

	st := stream.New("cam", stream.Options{})
	defer st.Close()
	s := benchViewer(b, w, st)

	unit := benchUnit(au(false, 20000))
	sw := sessionWriter{batches: w.batches, batch: s.batch()}
	if sw.batch == nil && batchSends {
		b.Fatal("no send batch for the viewer's address")
	}
	b.SetBytes(int64(unit.Bytes))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sw.write(s.track, stream.Item{Unit: unit, TS: unit.TS}) // live: unpaced
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
func benchUnit(nalus [][]byte) *stream.Unit {
	st := stream.New("cam", stream.Options{})
	defer st.Close()
	r, _ := st.SubscribeDecoder()
	st.WriteAccessUnit(&capture.AccessUnit{NALUs: au(true, 100), IDR: true, Session: 1})
	<-r.C()
	st.WriteAccessUnit(&capture.AccessUnit{NALUs: nalus, PTS: 3000, IDR: false, Session: 1})
	return (<-r.C()).Unit
}
