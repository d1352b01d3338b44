package frames

import (
	"errors"
	"testing"
	"time"

	"github.com/edgecam/edgecam/stream"
)

// A camera runs at most MaxDecoders decoders, the cameras sharing a Budget
// at most its bound; a decoder nobody watches makes room, and requests for
// nearly the same JPEG share one.
func TestDecodersStayWithinTheirBudget(t *testing.T) {
	needFFmpeg(t)
	budget := NewBudget(3)
	s := Settings{MaxDecoders: 2, Budget: budget, IdleStop: time.Minute, Width: 1280}
	st1 := stream.New("one", stream.Options{})
	t.Cleanup(st1.Close)
	st2 := stream.New("two", stream.Options{})
	t.Cleanup(st2.Close)
	h1, h2 := startHub(t, st1, s), startHub(t, st2, s)

	subscribe := func(h *Hub, v Variant) (*Viewer, error) {
		t.Helper()
		w, err := h.Subscribe(v)
		if err == nil {
			t.Cleanup(w.Close)
		}
		return w, err
	}
	a, err := subscribe(h1, Variant{Width: 600})
	if err != nil {
		t.Fatal(err)
	}
	// 600 and 640 are served at 640, quality 74 and 75 at 75: one decoder.
	b, err := subscribe(h1, Variant{Width: 640, Quality: 74})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subscribe(h1, Variant{Format: FormatBGR24, Width: 416}); err != nil {
		t.Fatal(err)
	}
	if n := h1.Stats().Decoders; n != 2 {
		t.Fatalf("%d decoders for two variants", n)
	}
	if _, err := subscribe(h1, Variant{Width: 320}); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third variant on a camera allowed two: %v, want ErrBusy", err)
	}
	if _, err := subscribe(h2, Variant{Width: 320}); err != nil {
		t.Fatal(err)
	}
	if _, err := subscribe(h2, Variant{Width: 160}); !errors.Is(err, ErrBusy) {
		t.Fatalf("a fourth decoder on a budget of three: %v, want ErrBusy", err)
	}
	// The 640 decoder loses its last viewer and lingers; a new variant
	// takes its place rather than being refused.
	a.Close()
	b.Close()
	if _, err := subscribe(h1, Variant{Width: 960}); err != nil {
		t.Fatalf("no room made by a decoder nobody watches: %v", err)
	}
	if got := budget.Running(); got != 3 {
		t.Fatalf("budget counts %d decoders, want 3", got)
	}
}
