// Package events fans named events out to subscribers: the camera and
// viewer changes behind /api/events. A subscriber that falls too far behind
// is dropped rather than allowed to hold up the others; a browser's
// EventSource reconnects by itself.
package events

import (
	"encoding/json"
	"sync"
)

// queueLen is how many events a subscriber may fall behind before it is
// dropped.
const queueLen = 64

// Event is one published event, its data encoded as JSON once for all
// subscribers.
type Event struct {
	Name string
	Data []byte
}

// Bus fans events out. Its methods are safe for concurrent use.
type Bus struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
	// joined is signalled when a subscriber arrives, so that a publisher
	// can sleep while nobody listens.
	joined chan struct{}
}

// NewBus returns a Bus with no subscribers.
func NewBus() *Bus {
	return &Bus{subs: make(map[chan Event]struct{}), joined: make(chan struct{}, 1)}
}

// Subscribe adds a subscriber. Its channel is closed when cancel is called
// or when it falls behind by more than a queue's worth of events.
func (b *Bus) Subscribe() (events <-chan Event, cancel func()) {
	ch := make(chan Event, queueLen)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	select {
	case b.joined <- struct{}{}:
	default:
	}
	return ch, func() {
		b.mu.Lock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
		b.mu.Unlock()
	}
}

// Listened reports whether anyone is subscribed.
func (b *Bus) Listened() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs) > 0
}

// Joined is signalled (coalesced) when a subscriber arrives.
func (b *Bus) Joined() <-chan struct{} { return b.joined }

// Publish sends v, encoded as JSON, to every subscriber under name.
func (b *Bus) Publish(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- Event{Name: name, Data: data}:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}
