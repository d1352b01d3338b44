package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/events"
)

const (
	// eventRefresh resends the full camera list (fps, bitrate, frame age)
	// this often while someone listens.
	eventRefresh = 5 * time.Second
	// sseHeartbeat keeps idle connections open through proxies.
	sseHeartbeat = 15 * time.Second
	// eventWriteTimeout drops an event stream whose reader stopped reading.
	eventWriteTimeout = 10 * time.Second
)

// cameraEvent is a change in one camera's health.
type cameraEvent struct {
	Camera     string `json:"camera"`
	Stream     string `json:"stream"` // main or sub
	Event      string `json:"event"`  // online, offline, stale, unsupported, connecting, idle, reconnect
	State      string `json:"state"`
	Error      string `json:"error,omitempty"`
	Reconnects uint64 `json:"reconnects"`
}

// viewerEvent is a viewer joining or leaving a camera.
type viewerEvent struct {
	Camera  string  `json:"camera"`
	Event   string  `json:"event"` // joined or left
	Viewers int     `json:"viewers"`
	By      Viewers `json:"viewers_by_transport"`
}

// seen is what the last events said of a camera.
type seen struct {
	state      string
	reconnects uint64
	viewers    int
	// sub is the sub-stream's state and reconnects; zero without one.
	subState      string
	subReconnects uint64
}

// Feed publishes the events of /api/events as cameras change: "camera" when
// one goes online, offline, stale or reconnects, "viewers" when its viewers
// change, and after either the whole "cameras" list. Cameras tell it of a
// change through Changed; it does no work while nobody listens.
type Feed struct {
	bus      *events.Bus
	cameras  func() *cameras.Set
	instance string
	changed  chan struct{}
}

// NewFeed returns a Feed that publishes on bus what it reads from the
// camera set cams returns, for the daemon run instance.
func NewFeed(bus *events.Bus, cams func() *cameras.Set, instance string) *Feed {
	return &Feed{bus: bus, cameras: cams, instance: instance, changed: make(chan struct{}, 1)}
}

// Changed tells the feed that a camera or the camera set changed. It never
// blocks; changes that come together are handled together.
func (f *Feed) Changed() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// Run publishes events until ctx ends.
func (f *Feed) Run(ctx context.Context) error {
	bus := f.bus
	refresh := time.NewTimer(eventRefresh)
	defer refresh.Stop()
	var last map[string]seen
	var lastSet *cameras.Set
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-bus.Joined():
			// A subscriber starts from the full list; changes are
			// reported from what the cameras are now.
			lastSet = f.cameras()
			last = f.publishChanges(lastSet, nil)
			refresh.Reset(eventRefresh)
			continue
		case <-f.changed:
		case <-refresh.C:
			if bus.Listened() {
				bus.Publish("cameras", listOf(f.cameras(), f.instance))
				refresh.Reset(eventRefresh)
			}
			continue
		}
		if !bus.Listened() {
			last, lastSet = nil, nil
			continue
		}
		set := f.cameras()
		now := f.publishChanges(set, last)
		if set != lastSet || changedAny(last, now) {
			bus.Publish("cameras", listOf(f.cameras(), f.instance))
			refresh.Reset(eventRefresh)
		}
		last, lastSet = now, set
	}
}

// publishChanges publishes the camera and viewer events of what changed
// since last (nil: nothing known yet) and returns what it saw.
func (f *Feed) publishChanges(set *cameras.Set, last map[string]seen) map[string]seen {
	now := make(map[string]seen, len(set.List()))
	for _, c := range set.List() {
		j := cameraOf(c.Snapshot())
		cur := seen{state: j.State, reconnects: j.Reconnects, viewers: j.Viewers}
		if j.Sub != nil {
			cur.subState, cur.subReconnects = j.Sub.State, j.Sub.Reconnects
		}
		now[j.Name] = cur
		prev, known := last[j.Name]
		if !known {
			continue
		}
		f.publishStream(j.Name, "main", prev.state, prev.reconnects, &j.StreamStatus)
		if j.Sub != nil {
			f.publishStream(j.Name, "sub", prev.subState, prev.subReconnects, &j.Sub.StreamStatus)
		}
		if cur.viewers != prev.viewers {
			ev := "joined"
			if cur.viewers < prev.viewers {
				ev = "left"
			}
			f.bus.Publish("viewers", viewerEvent{Camera: j.Name, Event: ev, Viewers: j.Viewers, By: j.ViewersByTransport})
		}
	}
	return now
}

// publishStream publishes the "camera" events of one stream of a camera
// whose last events said state and reconnects.
func (f *Feed) publishStream(camera, stream, state string, reconnects uint64, s *StreamStatus) {
	if s.Reconnects > reconnects {
		f.bus.Publish("camera", cameraEvent{Camera: camera, Stream: stream, Event: "reconnect", State: s.State, Error: s.Error, Reconnects: s.Reconnects})
	}
	if s.State != state {
		f.bus.Publish("camera", cameraEvent{Camera: camera, Stream: stream, Event: stateEvent(s.State), State: s.State, Error: s.Error, Reconnects: s.Reconnects})
	}
}

func changedAny(a, b map[string]seen) bool {
	if len(a) != len(b) {
		return true
	}
	for k, v := range b {
		if a[k] != v {
			return true
		}
	}
	return false
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

// handleEvents streams events as text/event-stream. It starts with the full
// camera list, so a page can render from events alone.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	names := []string{"camera", "viewers", "cameras"}
	withDetections := r.URL.Query().Get("detections") == "1"
	if withDetections {
		names = append(names, "detections")
	}
	ch, unsubscribe := s.Events.Subscribe(names...)
	defer unsubscribe()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sse := sseWriter{w: w, rc: http.NewResponseController(w)}

	first, _ := json.Marshal(s.cameraList())
	if !sse.event(events.Event{Name: "cameras", Data: first}) {
		return
	}
	if withDetections && !s.sendRecentDetections(sse) {
		return
	}
	beat := time.NewTicker(sseHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.Quit:
			return
		case ev, ok := <-ch:
			if !ok || !sse.event(ev) {
				return
			}
		case <-beat.C:
			if !sse.comment("ping") {
				return
			}
		}
	}
}

// sendRecentDetections sends every camera's detections of the last few
// seconds, so a page that joins draws the current boxes at once.
func (s *Server) sendRecentDetections(sse sseWriter) bool {
	now := time.Now()
	for _, c := range s.Cameras().List() {
		if c.Disabled() {
			continue
		}
		for _, d := range c.Detections().Recent(now) {
			data, _ := json.Marshal(d)
			if !sse.event(events.Event{Name: "detections", Data: data}) {
				return false
			}
		}
	}
	return true
}

// sseWriter writes Server-Sent Events, each flushed at once and bounded in
// time.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s sseWriter) event(ev events.Event) bool {
	return s.write("event: "+ev.Name+"\ndata: ", ev.Data, "\n\n")
}

func (s sseWriter) comment(text string) bool {
	return s.write(": "+text+"\n\n", nil, "")
}

func (s sseWriter) write(head string, data []byte, tail string) bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	for _, b := range [][]byte{[]byte(head), data, []byte(tail)} {
		if len(b) == 0 {
			continue
		}
		if _, err := s.w.Write(b); err != nil {
			return false
		}
	}
	return s.rc.Flush() == nil
}
