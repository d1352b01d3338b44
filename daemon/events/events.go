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
	subs map[chan Event]names
	// joined is signalled when a subscriber arrives, so that a publisher
	// can sleep while nobody listens.
	joined chan struct{}
}

// NewBus returns a Bus with no subscribers.
func NewBus() *Bus {
	return &Bus{subs: make(map[chan Event]names), joined: make(chan struct{}, 1)}
}

// names is what a subscriber wants; nil means everything.
type names map[string]bool

func (n names) want(name string) bool { return n == nil || n[name] }

// Subscribe adds a subscriber to the events of the given names, or to all
// of them if none is given. Its channel is closed when cancel is called or
// when it falls behind by more than a queue's worth of events.
func (b *Bus) Subscribe(only ...string) (events <-chan Event, cancel func()) {
	ch := make(chan Event, queueLen)
	var want names
	if len(only) > 0 {
		want = names{}
		for _, n := range only {
			want[n] = true
		}
	}
	b.mu.Lock()
	b.subs[ch] = want
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

// Publish sends v, encoded as JSON, under name to every subscriber that
// wants it; with none, v is not even encoded.
func (b *Bus) Publish(name string, v any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var data []byte
	for ch, want := range b.subs {
		if !want.want(name) {
			continue
		}
		if data == nil {
			var err error
			if data, err = encode(v); err != nil {
				return
			}
		}
		select {
		case ch <- Event{Name: name, Data: data}:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// appender is a value that writes its own JSON, faster than reflection:
// those published many times a second, such as detections.
type appender interface{ AppendJSON([]byte) []byte }

func encode(v any) ([]byte, error) {
	if a, ok := v.(appender); ok {
		return a.AppendJSON(nil), nil
	}
	return json.Marshal(v)
}
