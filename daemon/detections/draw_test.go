package detections

import (
	"context"
	"image"
	"image/color"
	"testing"
	"time"
)

// The snapshot's colors are the page's: overlay.js hashes a label's UTF-16
// code units the same way (these values are what it computes).
func TestColorOfMatchesThePage(t *testing.T) {
	for _, tc := range []struct {
		label string
		index int
	}{
		{"person", 3}, {"marker", 6}, {"car", 4}, {"defect", 7}, {"Schraube", 7},
		{"狗", 7}, {"📦 box", 4}, {"a-very-long-label-that-overflows-int32", 3}, {"", 0},
	} {
		if got := ColorOf(tc.label); got != palette[tc.index] {
			t.Errorf("ColorOf(%q) = %v, want the page's %v", tc.label, got, palette[tc.index])
		}
	}
}

func TestDrawPutsBoxesAndLabelsWhereThePageDoes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		width  int
		object Object
		want   color.RGBA
	}{
		{"label color", 640, Object{Label: "part", Score: 0.9, Box: Box{0.25, 0.25, 0.5, 0.5}}, ColorOf("part")},
		{"own color", 640, Object{Label: "part", Score: 0.9, Box: Box{0.25, 0.25, 0.5, 0.5}, Color: "#00ff00"}, color.RGBA{0, 255, 0, 255}},
		{"1080p", 1920, Object{Label: "part", Score: 0.9, Box: Box{0.25, 0.25, 0.5, 0.5}}, ColorOf("part")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.width * 9 / 16
			img := image.NewRGBA(image.Rect(0, 0, tc.width, h))
			Draw(img, []Detection{{Model: "m", Objects: []Object{tc.object}}})
			scale := tc.width / 640
			x0, y0, x1 := tc.width/4, h/4, tc.width*3/4
			for _, p := range []image.Point{
				{x0, h / 2}, {x0 + 2*scale - 1, h / 2}, // left edge, its full width
				{x1 - 1, h / 2}, {tc.width / 2, y0}, // right and top edges
				{x0 + 1, y0 - 8*scale}, // the label's tag, above the box
			} {
				if got := img.RGBAAt(p.X, p.Y); got != tc.want {
					t.Errorf("pixel %v is %v, want the box's %v", p, got, tc.want)
				}
			}
			for _, p := range []image.Point{{x0 + 2*scale, h / 2}, {tc.width / 2, h / 2}, {x0 - 1, h / 2}} {
				if got := img.RGBAAt(p.X, p.Y); got != (color.RGBA{}) {
					t.Errorf("pixel %v is %v: only the box's lines are drawn", p, got)
				}
			}
		})
	}
}

func TestAwaitWaitsForEveryModelThatIsAnswering(t *testing.T) {
	s := NewStore("press-1")
	add := func(model string, pts uint32, at time.Time) {
		s.Add(&Message{Version: 1, Model: model, Objects: []Object{}}, pts, at, at)
	}
	now := time.Now()
	add("every-frame", 0, now)
	add("every-frame", 3600, now)
	add("every-fifth", 0, now)
	add("every-fifth", 18000, now)
	add("gone", 7200, now.Add(-2*Active))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan []Detection, 1)
	go func() { got <- s.Await(ctx, 7200) }()
	select {
	case d := <-got:
		t.Fatalf("Await(7200) returned %+v before every-frame answered for it", d)
	case <-time.After(50 * time.Millisecond):
	}
	add("every-frame", 7200, time.Now())
	var d []Detection
	select {
	case d = <-got:
	case <-ctx.Done():
		t.Fatal("Await(7200) did not return once every-frame answered for it")
	}
	// Each model's newest detections at or before the frame, those of a
	// model that stopped answering included (within the Window).
	want := map[string]uint32{"every-frame": 7200, "every-fifth": 0, "gone": 7200}
	if len(d) != len(want) {
		t.Fatalf("Await(7200) = %+v", d)
	}
	for _, x := range d {
		if want[x.Model] != x.PTS {
			t.Errorf("Await(7200) gave %s's detections of %d, want %d", x.Model, x.PTS, want[x.Model])
		}
	}

	// A model answering every fifth frame has answered for the four after
	// its last, and one frame it skipped does not change its step.
	add("every-frame", 10800, time.Now())
	add("every-frame", 18000, time.Now())
	quick, cancelQuick := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelQuick()
	start := time.Now()
	s.Await(quick, 18000+3599)
	if quick.Err() != nil {
		t.Fatalf("Await(21599) waited %s though every model answered for it", time.Since(start))
	}
	// A wait that times out gives what there is.
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if d := s.Await(short, 21600); len(d) != 3 || short.Err() == nil {
		t.Fatalf("Await(21600) = %+v, %v: want every-frame's 18000 after waiting for its 21600", d, short.Err())
	}
}
