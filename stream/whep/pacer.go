package whep

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A joining viewer starts with the camera's cached GOP, up to a megabyte at
// 1080p, and every session sends on the server's one UDP socket. Were each
// joiner's replay paced on its own, ten viewers joining together would
// still put ten bursts on the wire at once, more than a receiving host
// drains into its sockets' buffers (208 KB each by default on Linux): it
// would lose packets of the very IDRs they joined for, and each lost packet
// costs a NACK round trip. So the replays of all joining sessions draw from
// one budget, replayRate, owned by the Server (replayPacer), in slices of
// burstSlice bytes, a session at most one slice every burstPause (what one
// viewer's receiver takes, and what a lone joiner gets); and the earliest
// units go first: every joiner's IDR before any joiner's later frames,
// joiners of the same moment in the order they asked. Live units and NACK
// resends are not paced: they are small and late already.
const (
	burstSlice = 16 << 10
	burstPause = time.Millisecond
	// replayRate is the budget all replays share, in bytes a second:
	// about 540 Mbit/s, so that four joiners are each served as fast as
	// one alone, and a gigabit link keeps half of its room for live video.
	replayRate = 4 * burstSlice * int(time.Second/burstPause)
)

// replayPacer shares replayRate among the cached-GOP replays of all
// joining sessions (see above). Its dispatcher (run) grants slices; a
// session's replayTurn asks for them.
type replayPacer struct {
	rate  float64 // bytes a second
	burst float64 // the most the budget holds unused
	kick  chan struct{}

	mu      sync.Mutex
	tokens  float64 // a slice needs burstSlice; below zero when slices overran it
	at      time.Time
	joined  uint64
	waiting []*replayTurn
	granted uint64 // slices granted so far
}

func newReplayPacer(rate int) *replayPacer {
	// The budget holds what it earns in a burstPause, at least a slice:
	// the dispatcher's timer fires no finer than about a millisecond when
	// the process is otherwise idle, so a budget of one slice would grant
	// one a millisecond whatever the rate.
	burst := max(burstSlice, float64(rate)*burstPause.Seconds())
	return &replayPacer{rate: float64(rate), burst: burst, tokens: burst, kick: make(chan struct{}, 1)}
}

// replayTurn is one session's place in the pacer while it replays its
// cached GOP. Only the session's writer uses it.
type replayTurn struct {
	p     *replayPacer
	done  <-chan struct{} // the session's end
	order uint64          // when it joined: earlier first among equal units
	// unit is the index in the replay of the unit its next slice starts
	// in; lower first. Guarded by p.mu, as are the rest.
	unit      int
	notBefore time.Time // one slice every burstPause per session
	reserved  bool      // granted a slice not yet settled
	granted   chan struct{}
}

// join gives a session a turn; it must leave it when its replay ends.
func (p *replayPacer) join(done <-chan struct{}) *replayTurn {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.joined++
	return &replayTurn{p: p, done: done, order: p.joined, granted: make(chan struct{}, 1)}
}

// wait settles the sent bytes of the turn's last slice, then blocks until
// the pacer grants its next, which starts in the replay's unit unit. It
// returns false if the session ended first.
func (t *replayTurn) wait(unit, sent int) bool {
	p := t.p
	now := time.Now()
	p.mu.Lock()
	p.settle(t, sent, now)
	t.unit = unit
	p.waiting = append(p.waiting, t)
	// A slice that is due now is granted here, without waking the
	// dispatcher and then this goroutine again; the dispatcher is only
	// told about turns that have to wait.
	p.grantDue(now)
	waiting := len(p.waiting) > 0
	p.mu.Unlock()
	if waiting {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	select {
	case <-t.granted:
		return true
	case <-t.done:
		t.leave(0)
		return false
	}
}

// leave settles the last slice and gives up the turn: the replay is over.
func (t *replayTurn) leave(sent int) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.waiting, t); i >= 0 {
		p.waiting = slices.Delete(p.waiting, i, i+1)
	}
	select {
	case <-t.granted: // granted, never used
	default:
	}
	p.settle(t, sent, time.Now())
}

// settle returns what a granted slice reserved and did not send, and
// spaces the session's next slice. p.mu is held.
func (p *replayPacer) settle(t *replayTurn, sent int, now time.Time) {
	if !t.reserved {
		return
	}
	t.reserved = false
	p.refill(now)
	p.tokens += burstSlice - float64(sent)
	if sent > 0 {
		t.notBefore = now.Add(burstPause)
	}
}

// refill adds what the budget earned since it was last brought up to date.
// p.mu is held.
func (p *replayPacer) refill(now time.Time) {
	if !p.at.IsZero() {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.at).Seconds()*p.rate)
	}
	p.at = now
}

// grant hands out every slice that is due at now and returns when one may
// be due next; zero means when a turn asks.
func (p *replayPacer) grant(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.grantDue(now)
}

// grantDue is grant with p.mu held.
func (p *replayPacer) grantDue(now time.Time) time.Time {
	p.refill(now)
	for {
		best := -1
		var soonest time.Time // the first time a waiting session may send again
		for i, t := range p.waiting {
			if t.notBefore.After(now) {
				if soonest.IsZero() || t.notBefore.Before(soonest) {
					soonest = t.notBefore
				}
				continue
			}
			if best < 0 || t.unit < p.waiting[best].unit || t.unit == p.waiting[best].unit && t.order < p.waiting[best].order {
				best = i
			}
		}
		if best < 0 {
			return soonest
		}
		// A byte of slack for the float arithmetic of refill.
		if short := burstSlice - 1 - p.tokens; short > 0 {
			return now.Add(time.Duration(short / p.rate * float64(time.Second)))
		}
		t := p.waiting[best]
		p.waiting = slices.Delete(p.waiting, best, best+1)
		p.tokens -= burstSlice
		p.granted++
		t.reserved = true
		t.granted <- struct{}{}
	}
}

// slices returns how many slices the pacer has granted.
func (p *replayPacer) slices() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.granted
}

// run grants slices until ctx ends.
func (p *replayPacer) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if wake := p.grant(time.Now()); !wake.IsZero() {
			timer.Reset(time.Until(wake))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-due:
		}
	}
}
