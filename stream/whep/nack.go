package whep

import (
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// The resend history of a viewer: the packets it was sent in the last
// nackMaxAge, at most nackHistory of them.
//
// The count has to cover a joining viewer's cached GOP: it is sent as a
// burst (16 KB a millisecond), and a packet of the IDR at its head that is
// lost in that burst is NACKed some milliseconds later, when hundreds more
// have gone out (a 2 s GOP of a 1080p 4 Mbit/s camera is about 750
// packets); were that packet gone, the viewer would wait for the camera's
// next IDR. The age limit is for memory: each entry keeps its access unit's
// buffer alive, and a count alone would keep seconds of a low-bitrate camera
// per viewer; by age it is one second of the stream beyond the GOP cache,
// whatever the bitrate.
const (
	nackHistory = 1024 // a power of two, so that it divides the sequence space
	nackMaxAge  = time.Second
)

// nackResponder answers a viewer's NACKs by resending the packets it lost,
// like pion's nack.ResponderInterceptor, without its per-packet cost: pion's
// copies every packet it sends (two allocations and a payload copy per
// packet per viewer, about 1.5 MB of history per viewer once full). Here the
// history keeps the header and a reference to the payload, which is safe
// because every payload written on edgecam's PeerConnections is a Unit's
// packet, shared and never modified. Its gain, and when it could go:
// nack_own.go.
type nackResponder struct {
	interceptor.NoOp

	mu      sync.Mutex
	streams map[uint32]*sentHistory
}

// nackResponderFactory makes one nackResponder per PeerConnection.
type nackResponderFactory struct{}

func (nackResponderFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &nackResponder{streams: map[uint32]*sentHistory{}}, nil
}

// sentHistory is one outgoing stream's recent packets, indexed by sequence
// number modulo nackHistory.
type sentHistory struct {
	writer interceptor.RTPWriter

	mu     sync.Mutex
	sent   [nackHistory]sentPacket
	oldest uint16    // the oldest sequence number that may still be held
	start  time.Time // the first packet's send time; zero before it
}

// sentPacket is what resending a packet needs, kept small (48 bytes, not
// the 112 of an rtp.Header and a slice) because every viewer has
// nackHistory of them.
type sentPacket struct {
	payload   []byte
	at        int64       // when it was sent, as sentHistory.stamp; 0: the slot is empty
	full      *rtp.Header // the header, if it had CSRCs or extensions; edgecam's have none
	timestamp uint32
	seq       uint16
	pt        uint8
	marker    bool
}

func (p *sentPacket) header(ssrc uint32) rtp.Header {
	if p.full != nil {
		return *p.full
	}
	return rtp.Header{Version: 2, Marker: p.marker, PayloadType: p.pt, SequenceNumber: p.seq, Timestamp: p.timestamp, SSRC: ssrc}
}

// stamp is now as nanoseconds since the first packet, plus one so that no
// stamp is 0. A plain int64 keeps sentPacket small and free of the
// pointer a time.Time carries.
func (h *sentHistory) stamp(now time.Time) int64 { return int64(now.Sub(h.start)) + 1 }

// record keeps a sent packet and lets go of those older than nackMaxAge.
func (h *sentHistory) record(header *rtp.Header, payload []byte, now time.Time) {
	seq := header.SequenceNumber
	h.mu.Lock()
	defer h.mu.Unlock()
	first := h.start.IsZero()
	if first {
		h.start = now
	}
	if first || uint16(seq-h.oldest) >= nackHistory {
		// The start, or a jump: what the ring holds from before is
		// either overwritten or expired below.
		h.oldest = seq - nackHistory + 1
	}
	at := h.stamp(now)
	for ; h.oldest != seq; h.oldest++ {
		p := &h.sent[h.oldest%nackHistory]
		if p.at != 0 {
			if at-p.at < int64(nackMaxAge) {
				break
			}
			*p = sentPacket{}
		}
	}
	p := &h.sent[seq%nackHistory]
	*p = sentPacket{payload: payload, at: at, timestamp: header.Timestamp, seq: seq, pt: header.PayloadType, marker: header.Marker}
	if len(header.CSRC) > 0 || len(header.Extensions) > 0 || header.Padding {
		// The writer may reuse these slices.
		full := *header
		full.CSRC = append([]uint32(nil), header.CSRC...)
		full.Extensions = append([]rtp.Extension(nil), header.Extensions...)
		p.full = &full
	}
}

// lookup returns the packet sent with seq, if it is still held.
func (h *sentHistory) lookup(seq uint16, ssrc uint32, now time.Time) (rtp.Header, []byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &h.sent[seq%nackHistory]
	if p.at == 0 || p.seq != seq || h.stamp(now)-p.at >= int64(nackMaxAge) {
		return rtp.Header{}, nil, false
	}
	return p.header(ssrc), p.payload, true
}

// BindLocalStream records what the stream sends, if its receiver asked for NACK.
func (n *nackResponder) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !supportsNack(info) {
		return writer
	}
	h := &sentHistory{writer: writer}
	n.mu.Lock()
	n.streams[info.SSRC] = h
	n.mu.Unlock()
	ssrc := info.SSRC
	return interceptor.RTPWriterFunc(func(header *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if header.SSRC == ssrc {
			h.record(header, payload, time.Now())
		}
		return writer.Write(header, payload, a)
	})
}

// UnbindLocalStream forgets the stream's history.
func (n *nackResponder) UnbindLocalStream(info *interceptor.StreamInfo) {
	n.mu.Lock()
	delete(n.streams, info.SSRC)
	n.mu.Unlock()
}

// BindRTCPReader resends what the viewer's NACKs ask for.
func (n *nackResponder) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		i, a, err := reader.Read(b, a)
		if err != nil {
			return 0, nil, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		pkts, err := a.GetRTCPPackets(b[:i])
		if err != nil {
			// Not ours to judge: the session's reader skips it too.
			return i, a, nil
		}
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				n.resend(nack)
			}
		}
		return i, a, nil
	})
}

func (n *nackResponder) resend(nack *rtcp.TransportLayerNack) {
	n.mu.Lock()
	h := n.streams[nack.MediaSSRC]
	n.mu.Unlock()
	if h == nil {
		return
	}
	now := time.Now()
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			if header, payload, ok := h.lookup(seq, nack.MediaSSRC, now); ok {
				// A failed resend is the same as a lost one; the viewer asks again or waits for the next IDR.
				_, _ = h.writer.Write(&header, payload, nil)
			}
			return true
		})
	}
}

// supportsNack reports whether the receiver negotiated generic NACK.
func supportsNack(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}
