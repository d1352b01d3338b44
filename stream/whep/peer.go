package whep

import (
	"sync"

	"github.com/pion/webrtc/v4"
)

// peer is one viewer's PeerConnection, shared by the sessions it plays:
// one for a viewer of one camera, one per tile for a wall that asked for
// its cameras in one offer (OfferMany).
type peer struct {
	pc *webrtc.PeerConnection

	connected     chan struct{} // closed once DTLS is up
	connectedOnce sync.Once
	failed        chan struct{} // closed when the connection fails or closes
	failedOnce    sync.Once

	mu   sync.Mutex
	open int // sessions not yet closed
}

func newPeer(pc *webrtc.PeerConnection, sessions int) *peer {
	return &peer{pc: pc, open: sessions, connected: make(chan struct{}), failed: make(chan struct{})}
}

// release is a session's end: the last one closes the PeerConnection.
func (p *peer) release() {
	p.mu.Lock()
	p.open--
	last := p.open == 0
	p.mu.Unlock()
	if last {
		_ = p.pc.Close()
	}
}
