package frames

import (
	"errors"
	"sync"
)

// Each decoder is an ffmpeg process of tens of megabytes, and every
// distinct variant (format, width, quality, keyframes only) needs its own:
// left open, forty snapshot requests with forty widths would start forty of
// them. A Hub keeps at most Settings.MaxDecoders, a Budget shared by every
// Hub bounds them all, and JPEG widths and qualities are rounded to a few
// steps so that viewers asking for nearly the same share one decoder.

// DefaultMaxDecoders is the most decoders one camera runs at once.
const DefaultMaxDecoders = 4

// ErrBusy is returned (wrapped) by Subscribe and Snapshot when a new
// decoder would be one more than the camera or the box may run.
var ErrBusy = errors.New("too many decoders")

// Budget bounds the decoders of every Hub that shares it. Its methods are
// safe for concurrent use.
type Budget struct {
	mu  sync.Mutex
	max int
	n   int
}

// NewBudget returns a budget of max decoders; 0 or less means no bound.
func NewBudget(max int) *Budget { return &Budget{max: max} }

// SetMax changes the bound; decoders already running keep running.
func (b *Budget) SetMax(max int) {
	b.mu.Lock()
	b.max = max
	b.mu.Unlock()
}

// Running returns the decoders counted now.
func (b *Budget) Running() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// Max returns the bound, 0 for none.
func (b *Budget) Max() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.max, 0)
}

func (b *Budget) take() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max > 0 && b.n >= b.max {
		return false
	}
	b.n++
	return true
}

func (b *Budget) give() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.n--
	b.mu.Unlock()
}

// jpegWidths are the widths JPEG viewers are served at: a request is
// rounded up to the next (and then capped by the camera's limit and its
// own size), so that a grid at 600 and another at 640 share one decoder.
// Raw pictures for models keep the width asked for: a model needs its
// input size exactly.
var jpegWidths = []int{160, 320, 480, 640, 800, 960, 1280, 1600, 1920, 2560, 3840}

func roundJPEGWidth(w int) int {
	for _, s := range jpegWidths {
		if w <= s {
			return s
		}
	}
	return w
}

// roundQuality rounds a JPEG quality from 5 up to a multiple of 5.
func roundQuality(q int) int {
	if q < 5 {
		return q
	}
	return (q + 2) / 5 * 5
}

// admit makes room for one more decoder of h, stopping one nobody watches
// if that is what it takes, or says why there is none. h.mu is held.
func (h *Hub) admit() error {
	if len(h.decoders) >= h.s.MaxDecoders && !h.evictIdle() {
		return ErrBusy
	}
	if h.s.Budget.take() {
		return nil
	}
	if h.evictIdle() && h.s.Budget.take() {
		return nil
	}
	return ErrBusy
}

// evictIdle stops one of h's decoders that only lingers for lack of
// viewers, and reports whether there was one. h.mu is held.
func (h *Hub) evictIdle() bool {
	for _, d := range h.decoders {
		if d.viewers == 0 {
			h.drop(d)
			return true
		}
	}
	return false
}

// drop stops d and gives its place back. h.mu is held.
func (h *Hub) drop(d *decoder) {
	d.stopIdleTimer()
	delete(h.decoders, d.v)
	d.cancel()
	h.s.Budget.give()
}
