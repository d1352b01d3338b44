package whep

import (
	"bytes"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

type sentRTP struct {
	header  rtp.Header
	payload []byte
}

type recordingWriter struct{ sent []sentRTP }

func (w *recordingWriter) Write(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
	w.sent = append(w.sent, sentRTP{*h, payload})
	return len(payload), nil
}

// nackReader hands out one marshalled RTCP packet, then fails.
type nackReader struct{ pkt []byte }

func (r *nackReader) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	if r.pkt == nil {
		return 0, nil, bytes.ErrTooLarge
	}
	n := copy(b, r.pkt)
	r.pkt = nil
	return n, a, nil
}

func TestViewerGetsLostPacketsAgainOnNack(t *testing.T) {
	i, _ := nackResponderFactory{}.NewInterceptor("")
	n := i.(*nackResponder)
	out := &recordingWriter{}
	info := &interceptor.StreamInfo{SSRC: 42, RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}}
	w := n.BindLocalStream(info, out)
	for seq := uint16(65534); seq != 3; seq++ { // across the wrap
		_, _ = w.Write(&rtp.Header{SSRC: 42, SequenceNumber: seq}, []byte{byte(seq)}, nil)
	}
	sentBefore := len(out.sent)

	nack := &rtcp.TransportLayerNack{MediaSSRC: 42, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{65535, 1, 500})}
	raw, err := nack.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := n.BindRTCPReader(&nackReader{pkt: raw})
	if _, _, err := r.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	resent := out.sent[sentBefore:]
	if len(resent) != 2 || resent[0].header.SequenceNumber != 65535 || resent[1].header.SequenceNumber != 1 ||
		resent[0].payload[0] != 0xff || resent[1].payload[0] != 1 {
		t.Fatalf("resent %+v, want sequence numbers 65535 and 1 with their payloads (500 was never sent)", resent)
	}

	n.UnbindLocalStream(info)
	r = n.BindRTCPReader(&nackReader{pkt: raw})
	_, _, _ = r.Read(make([]byte, 1500), nil)
	if len(out.sent) != sentBefore+2 {
		t.Fatal("packets resent for a stream that is gone")
	}
}

func TestStreamWithoutNackFeedbackIsNotRecorded(t *testing.T) {
	i, _ := nackResponderFactory{}.NewInterceptor("")
	out := &recordingWriter{}
	if w := i.BindLocalStream(&interceptor.StreamInfo{SSRC: 1}, out); w != interceptor.RTPWriter(out) {
		t.Fatal("a stream without NACK got a send history")
	}
}

// A viewer that joins is sent the cached GOP as a burst of hundreds of
// packets; one of the IDR at its head that is lost must still be resendable
// when the viewer's NACK arrives, yet a quiet camera's packets must not be
// kept alive for long.
func TestResendHistoryCoversABurstAndForgetsOldPackets(t *testing.T) {
	t0 := time.Now()
	for _, tc := range []struct {
		name    string
		sent    int           // packets sent, seq 65000 on, across the wrap
		spacing time.Duration // between packets
		ask     uint16        // the sequence number NACKed, at the last packet's time
		want    bool
	}{
		{"IDR at the head of a 1000-packet burst", 1000, time.Millisecond / 12, 65000, true},
		{"last packet", 1000, time.Millisecond / 12, 65000 + 999 - 65536, true},
		{"beyond the history's count", nackHistory + 10, 0, 65000, false},
		{"older than a second", 200, 10 * time.Millisecond, 65000, false},
		{"just under a second old", 100, 10 * time.Millisecond, 65000, true},
		{"never sent", 10, 0, 65010, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &sentHistory{}
			var now time.Time
			for i := range tc.sent {
				now = t0.Add(time.Duration(i) * tc.spacing)
				seq := uint16(65000 + i)
				h.record(&rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: seq, Timestamp: 9000, Marker: i%5 == 4, SSRC: 7}, []byte{byte(seq)}, now)
			}
			hdr, payload, ok := h.lookup(tc.ask, 7, now)
			if ok != tc.want {
				t.Fatalf("seq %d resendable: %v, want %v", tc.ask, ok, tc.want)
			}
			if ok && (hdr.SequenceNumber != tc.ask || hdr.SSRC != 7 || hdr.PayloadType != 102 || hdr.Timestamp != 9000 ||
				hdr.Marker != (uint16(tc.ask-65000)%5 == 4) || payload[0] != byte(tc.ask)) {
				t.Fatalf("resent %+v %v, not what was sent as %d", hdr, payload, tc.ask)
			}
		})
	}

	// Every viewer has nackHistory entries: they stay small.
	if size := unsafe.Sizeof(sentPacket{}); size > 48 {
		t.Errorf("a history entry is %d bytes, want at most 48", size)
	}

	// Expired packets are let go of, so their access units can be freed.
	h := &sentHistory{}
	for i := range 100 {
		h.record(&rtp.Header{SequenceNumber: uint16(i)}, make([]byte, 1000), t0.Add(time.Duration(i)*time.Millisecond))
	}
	h.record(&rtp.Header{SequenceNumber: 100}, nil, t0.Add(1500*time.Millisecond))
	for i := range 100 {
		if h.sent[i].payload != nil {
			t.Fatalf("packet %d is still held 1.5 s after it was sent", i)
		}
	}
}
