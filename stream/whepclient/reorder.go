package whepclient

import (
	"time"

	"github.com/pion/rtp"
)

// reorderSlots is how far ahead of a missing packet the player holds
// packets: more than a 1080p IDR, which arrives as one burst.
const reorderSlots = 2048

// reorder puts RTP packets back in sequence order. When one is missing it
// holds those behind it for up to maxWait, the time the NACK interceptor
// has to get it resent, as a browser's jitter buffer does; then it gives
// up on what is still missing and releases what it holds. Without it a
// player that loses one packet of an IDR waits for the camera's next IDR,
// though the resend came a few milliseconds later.
type reorder struct {
	maxWait time.Duration
	started bool
	next    uint16 // the sequence number due
	held    int
	since   time.Time // when the oldest held packet arrived
	lost    int       // packets given up on
	missed  int       // packets missing when a later one arrived: lost on the way, resent or not
	highest uint16    // the highest sequence number that arrived
	gap     bool      // the next packet emitted follows packets given up on
	slots   [reorderSlots]*rtp.Packet
}

// emitFunc receives the packets in order; afterGap is true for the first
// one after packets that were given up on.
type emitFunc func(p *rtp.Packet, afterGap bool)

// push takes a packet that arrived at now and emits, in order, every packet
// that is due.
func (r *reorder) push(p *rtp.Packet, now time.Time, emit emitFunc) {
	if !r.started {
		r.started, r.next, r.highest = true, p.SequenceNumber, p.SequenceNumber-1
	}
	switch d := int16(p.SequenceNumber - r.highest); {
	case d > 0 && d < reorderSlots:
		r.missed += int(d) - 1
		r.highest = p.SequenceNumber
	case d >= reorderSlots || d <= -reorderSlots:
		r.highest = p.SequenceNumber // the sender started over
	}
	switch d := int16(p.SequenceNumber - r.next); {
	case d == 0:
		r.emit(p, emit)
		r.next++
		r.drain(emit)
		if r.held > 0 {
			r.since = now // the wait starts over for the next gap
		}
	case d > 0 && d < reorderSlots:
		slot := &r.slots[p.SequenceNumber%reorderSlots]
		if *slot == nil {
			*slot = p
			if r.held++; r.held == 1 {
				r.since = now
			}
		}
	case d < 0 && d > -reorderSlots:
		// A duplicate, or a resend that came after the wait.
	default:
		// A jump the buffer cannot span: the sender started over.
		r.release(emit)
		r.next = p.SequenceNumber + 1
		r.emit(p, emit)
	}
	r.expire(now, emit)
}

// deadline is when expire will give up on the missing packets, if any are.
func (r *reorder) deadline() (time.Time, bool) {
	return r.since.Add(r.maxWait), r.held > 0
}

// expire releases what is held if the missing packets have been waited for
// long enough.
func (r *reorder) expire(now time.Time, emit emitFunc) {
	if r.held > 0 && now.Sub(r.since) >= r.maxWait {
		r.release(emit)
	}
}

// release emits every held packet in order, counting those missing among
// them as lost.
func (r *reorder) release(emit emitFunc) {
	for r.held > 0 {
		if r.slots[r.next%reorderSlots] == nil {
			r.lost++
			r.next++
			r.gap = true
			continue
		}
		r.drain(emit)
	}
}

// drain emits the held packets that follow on without a gap.
func (r *reorder) drain(emit emitFunc) {
	for r.held > 0 {
		slot := &r.slots[r.next%reorderSlots]
		if *slot == nil {
			return
		}
		r.emit(*slot, emit)
		*slot = nil
		r.held--
		r.next++
	}
}

func (r *reorder) emit(p *rtp.Packet, emit emitFunc) {
	gap := r.gap
	r.gap = false
	emit(p, gap)
}
