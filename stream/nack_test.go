package stream

import (
	"bytes"
	"testing"

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
