package detections

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

const (
	// Window is how long a camera's detections are kept: a viewer who
	// joins gets them at once, and the rate is measured over it.
	Window = 5 * time.Second
	// maxLabels bounds the labels counted per camera for the metrics, so
	// that a model inventing labels cannot grow them without end; the
	// rest are counted as OtherLabel.
	maxLabels = 64
	// OtherLabel counts the labels beyond maxLabels.
	OtherLabel = "other"
	// maxKept bounds the messages kept per camera, whatever their rate.
	maxKept = 1024
	// Active is how long after its last message a model counts as
	// answering: Await waits for it.
	Active = 1500 * time.Millisecond
)

// Store keeps one camera's recent detections and counts them. Its methods
// are safe for concurrent use.
type Store struct {
	camera string

	mu      sync.Mutex
	changed chan struct{} // closed and replaced by every Add
	recent  []Detection   // in arrival order, none older than Window
	last    time.Time
	model   string
	total   uint64
	labels  map[string]uint64
	latency struct {
		sum   float64
		count uint64
	}
}

// NewStore returns the empty store of a camera.
func NewStore(camera string) *Store {
	return &Store{camera: camera, labels: make(map[string]uint64), changed: make(chan struct{})}
}

// Add keeps a checked message about the frame with timestamp pts, which
// arrived from the camera at received, and returns it as viewers get it.
func (s *Store) Add(m *Message, pts uint32, received, now time.Time) Detection {
	d := Detection{
		Version: m.Version,
		Camera:  s.camera,
		PTS:     pts,
		Model:   m.Model,
		Objects: m.Objects,
		Time:    now,
		Latency: max(now.Sub(received).Seconds(), 0),
	}
	if d.Objects == nil {
		d.Objects = []Object{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	if len(s.recent) >= maxKept {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	s.recent = append(s.recent, d)
	close(s.changed)
	s.changed = make(chan struct{})
	s.last, s.model = now, m.Model
	s.total++
	s.latency.sum += d.Latency
	s.latency.count++
	for _, o := range m.Objects {
		label := o.Label
		if _, known := s.labels[label]; !known && len(s.labels) >= maxLabels {
			label = OtherLabel
		}
		s.labels[label]++
	}
	return d
}

// prune forgets what is older than Window. s.mu is held.
func (s *Store) prune(now time.Time) {
	i := 0
	for i < len(s.recent) && now.Sub(s.recent[i].Time) > Window {
		i++
	}
	if i > 0 {
		s.recent = append(s.recent[:0], s.recent[i:]...)
	}
}

// Recent returns the detections of the last Window, oldest first.
func (s *Store) Recent(now time.Time) []Detection {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	return append([]Detection(nil), s.recent...)
}

// For returns, for each model, its detection for the frame with timestamp
// pts, or else its newest one of an earlier frame: what a viewer shows
// with that frame. Timestamps are compared as RTP's wrap around.
func (s *Store) For(pts uint32, now time.Time) []Detection {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	best := map[string]Detection{}
	for _, d := range s.recent {
		ahead := int32(d.PTS - pts)
		if ahead > 0 {
			continue // a later frame's: never drawn ahead of the picture
		}
		if b, ok := best[d.Model]; !ok || int32(d.PTS-b.PTS) >= 0 {
			best[d.Model] = d
		}
	}
	out := make([]Detection, 0, len(best))
	for _, d := range best {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// Await returns For(pts) once every model answering lately has answered
// for that frame, or when ctx ends: a snapshot taken as the model looks at
// it gets its boxes. A model has answered for a frame once it sent
// detections of it or a later one, or of the last frame before it that it
// looks at (a model reading every fifth frame answers for the four after).
func (s *Store) Await(ctx context.Context, pts uint32) []Detection {
	for {
		s.mu.Lock()
		now := time.Now()
		done, ch := s.answered(pts, now), s.changed
		s.mu.Unlock()
		if done {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.For(pts, time.Now())
		}
	}
	return s.For(pts, time.Now())
}

// answered applies Await's rule. s.mu is held.
func (s *Store) answered(pts uint32, now time.Time) bool {
	type model struct {
		newest uint32
		gaps   []uint32 // between the frames it answered for, the last few
		at     time.Time
	}
	models := map[string]*model{}
	for _, d := range s.recent {
		m := models[d.Model]
		if m == nil {
			models[d.Model] = &model{newest: d.PTS, at: d.Time}
			continue
		}
		if gap := d.PTS - m.newest; int32(gap) > 0 {
			m.newest = d.PTS
			m.gaps = append(m.gaps, gap)
			if len(m.gaps) > 9 {
				m.gaps = m.gaps[1:]
			}
		}
		m.at = d.Time
	}
	for _, m := range models {
		if now.Sub(m.at) > Active || int32(m.newest-pts) >= 0 {
			continue
		}
		if len(m.gaps) > 0 && pts-m.newest < median(m.gaps) {
			continue
		}
		return false
	}
	return true
}

// median is the middle of a model's gaps between frames: its step, as
// the page reckons it, unmoved by a frame it skipped now and then.
func median(gaps []uint32) uint32 {
	s := slices.Clone(gaps)
	slices.Sort(s)
	return s[len(s)/2]
}

// Stats are a camera's detection counters.
type Stats struct {
	// Model is the model of the last message; "" before the first.
	Model string
	// Last is when the last message came; zero before the first.
	Last time.Time
	// PerSecond is the messages a second over the last Window.
	PerSecond float64
	// Total counts every message; Labels every object, by label.
	Total  uint64
	Labels map[string]uint64
	// LatencySum and LatencyCount add up the seconds from each frame's
	// arrival to its message's.
	LatencySum   float64
	LatencyCount uint64
}

// Stats returns the store's counters.
func (s *Store) Stats(now time.Time) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	labels := make(map[string]uint64, len(s.labels))
	for k, v := range s.labels {
		labels[k] = v
	}
	return Stats{
		Model:        s.model,
		Last:         s.last,
		PerSecond:    float64(len(s.recent)) / Window.Seconds(),
		Total:        s.total,
		Labels:       labels,
		LatencySum:   s.latency.sum,
		LatencyCount: s.latency.count,
	}
}
