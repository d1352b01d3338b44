package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

const (
	// eventScan is how often camera states are compared for events: a
	// camera going offline reaches the page and scripts within this.
	eventScan = 250 * time.Millisecond
	// eventRefresh resends the full camera list (fps, bitrate) this often.
	eventRefresh = 5 * time.Second
	// sseHeartbeat keeps idle connections open through proxies.
	sseHeartbeat = 15 * time.Second
	// eventQueue is how many events a slow subscriber may fall behind
	// before it is dropped (the browser's EventSource reconnects).
	eventQueue = 64
)

// event is one Server-Sent Event.
type event struct {
	name string
	data []byte
}

// eventBus fans events out to SSE subscribers.
type eventBus struct {
	mu   sync.Mutex
	subs map[chan event]struct{}
	// joined is signalled when a subscriber arrives, so the scanner can
	// sleep while nobody listens.
	joined chan struct{}
}

func newEventBus() *eventBus {
	return &eventBus{subs: make(map[chan event]struct{}), joined: make(chan struct{}, 1)}
}

func (b *eventBus) subscribe() (<-chan event, func()) {
	ch := make(chan event, eventQueue)
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

// listened tells whether anyone is subscribed.
func (b *eventBus) listened() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs) > 0
}

func (b *eventBus) publish(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- event{name: name, data: data}:
		default:
			// Too far behind: drop it rather than block the others.
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// cameraEvent is a change in one camera's health.
type cameraEvent struct {
	Camera     string `json:"camera"`
	Event      string `json:"event"` // online, offline, stale, unsupported, connecting, idle, reconnect
	State      string `json:"state"`
	Error      string `json:"error,omitempty"`
	Reconnects uint64 `json:"reconnects"`
}

// viewerEvent is a viewer joining or leaving a camera.
type viewerEvent struct {
	Camera  string       `json:"camera"`
	Event   string       `json:"event"` // joined or left
	Viewers int          `json:"viewers"`
	By      viewerCounts `json:"viewers_by_transport"`
}

type cameraSeen struct {
	state      string
	reconnects uint64
	viewers    int
}

// watchEvents compares the cameras' health every eventScan and publishes
// what changed. It runs until ctx ends.
func (d *Daemon) watchEvents(ctx context.Context) {
	t := time.NewTicker(eventScan)
	defer t.Stop()
	seen := map[string]cameraSeen{}
	var lastSet *cameraSet
	lastFull := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !d.events.listened() {
			// Nobody to tell: stop scanning until someone subscribes.
			// Forgetting what was seen means no stale changes are
			// reported then; a subscriber starts from the full list.
			t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-d.events.joined:
			}
			// The subscriber starts with the full list; the next one
			// is due eventRefresh later.
			seen, lastSet, lastFull = map[string]cameraSeen{}, d.cameras(), time.Now()
			t.Reset(eventScan)
		}
		set := d.cameras()
		changed := set != lastSet
		lastSet = set
		now := make(map[string]cameraSeen, len(set.list))
		for _, u := range set.list {
			j := d.cameraJSON(u)
			cur := cameraSeen{state: j.State, reconnects: j.Reconnects, viewers: j.Viewers}
			now[j.Name] = cur
			prev, known := seen[j.Name]
			if !known {
				continue
			}
			if cur.reconnects > prev.reconnects {
				d.events.publish("camera", cameraEvent{Camera: j.Name, Event: "reconnect", State: j.State, Error: j.Error, Reconnects: j.Reconnects})
				changed = true
			}
			if cur.state != prev.state {
				d.events.publish("camera", cameraEvent{Camera: j.Name, Event: stateEvent(j.State), State: j.State, Error: j.Error, Reconnects: j.Reconnects})
				changed = true
			}
			if cur.viewers != prev.viewers {
				ev := "joined"
				if cur.viewers < prev.viewers {
					ev = "left"
				}
				d.events.publish("viewers", viewerEvent{Camera: j.Name, Event: ev, Viewers: j.Viewers, By: j.ViewersByTransport})
				changed = true
			}
		}
		seen = now
		if changed || time.Since(lastFull) >= eventRefresh {
			d.events.publish("cameras", d.cameraList())
			lastFull = time.Now()
		}
	}
}

func stateEvent(state string) string {
	switch state {
	case "streaming":
		return "online"
	case "retrying":
		return "offline"
	}
	return state
}

// cameraList is the body of GET /api/cameras and of the "cameras" event.
func (d *Daemon) cameraList() any {
	list := d.cameras().list
	out := struct {
		Cameras []CameraJSON `json:"cameras"`
	}{Cameras: make([]CameraJSON, 0, len(list))}
	for _, u := range list {
		out.Cameras = append(out.Cameras, d.cameraJSON(u))
	}
	return out
}

// handleEvents streams events as text/event-stream. It starts with the full
// camera list, so a page can render from events alone.
func (d *Daemon) handleEvents(w http.ResponseWriter, r *http.Request) {
	ch, unsubscribe := d.events.subscribe()
	defer unsubscribe()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	write := func(name string, data []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
		if name != "" {
			if _, err := w.Write([]byte("event: " + name + "\ndata: ")); err != nil {
				return false
			}
			if _, err := w.Write(data); err != nil {
				return false
			}
			if _, err := w.Write([]byte("\n\n")); err != nil {
				return false
			}
		} else if _, err := w.Write([]byte(": ping\n\n")); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	first, _ := json.Marshal(d.cameraList())
	if !write("cameras", first) {
		return
	}
	beat := time.NewTicker(sseHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.quit:
			return
		case ev, ok := <-ch:
			if !ok || !write(ev.name, ev.data) {
				return
			}
		case <-beat.C:
			if !write("", nil) {
				return
			}
		}
	}
}
