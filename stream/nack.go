package stream

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// nackHistory is how many sent packets each viewer can have resent: about
// 0.7 s of a 1080p 4 Mbit/s camera, 2 s of a 360p 1 Mbit/s one, well beyond
// a LAN round trip. It is also what the history keeps alive: each entry
// holds its access unit's packet buffer, so 1024 entries kept 8 s of a 360p
// camera in memory, 2 MB per camera on top of the GOP cache.
const nackHistory = 256

// nackResponder answers a viewer's NACKs by resending the packets it lost,
// like pion's nack.ResponderInterceptor, without its per-packet cost: pion's
// copies every packet it sends (two allocations and a payload copy per
// packet per viewer, about 1.5 MB of history per viewer once full). Here the
// history keeps the header and a reference to the payload, which is safe
// because every payload written on edgecam's PeerConnections is a Unit's
// packet, shared and never modified.
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

	mu   sync.Mutex
	sent [nackHistory]sentPacket
}

type sentPacket struct {
	header  rtp.Header
	payload []byte
	valid   bool
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
			h.mu.Lock()
			p := &h.sent[header.SequenceNumber%nackHistory]
			p.header, p.payload, p.valid = *header, payload, true
			if len(header.CSRC) > 0 || len(header.Extensions) > 0 {
				// The writer may reuse these; edgecam's packets have none.
				p.header.CSRC = append([]uint32(nil), header.CSRC...)
				p.header.Extensions = append([]rtp.Extension(nil), header.Extensions...)
			}
			h.mu.Unlock()
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
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			h.mu.Lock()
			p := h.sent[seq%nackHistory]
			h.mu.Unlock()
			if p.valid && p.header.SequenceNumber == seq {
				// A failed resend is the same as a lost one; the viewer asks again or waits for the next IDR.
				_, _ = h.writer.Write(&p.header, p.payload, nil)
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
