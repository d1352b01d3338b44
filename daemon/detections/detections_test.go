package detections

import (
	"strings"
	"testing"
	"time"
)

func TestParseTellsWhatIsWrong(t *testing.T) {
	big := `{"model":"m","pts":1,"objects":[` + strings.Repeat(`{"label":"a","score":1,"box":{"x":0,"y":0,"w":1,"h":1}},`, MaxObjects) + `{"label":"a","score":1,"box":{"x":0,"y":0,"w":1,"h":1}}]}`
	for _, tc := range []struct {
		name, body string
		status     int
		says       string
	}{
		{"not JSON", `{"model":`, 400, "not a detections message"},
		{"two values", `{"model":"m","objects":[]} {}`, 400, "more than one"},
		{"unknown key", `{"model":"m","objects":[],"boxes":[]}`, 400, "unknown field"},
		{"no model", `{"pts":1,"objects":[]}`, 422, "model"},
		{"newer version", `{"version":2,"model":"m","objects":[]}`, 422, "version 2"},
		{"box outside", `{"model":"m","objects":[{"label":"a","score":0.5,"box":{"x":0.8,"y":0,"w":0.5,"h":0.1}}]}`, 422, "objects[0].box"},
		{"empty box", `{"model":"m","objects":[{"label":"a","score":0.5,"box":{"x":0.1,"y":0,"w":0,"h":0.1}}]}`, 422, "box"},
		{"score", `{"model":"m","objects":[{"label":"a","score":1.5,"box":{"x":0,"y":0,"w":1,"h":1}}]}`, 422, "score"},
		{"no label", `{"model":"m","objects":[{"score":1,"box":{"x":0,"y":0,"w":1,"h":1}}]}`, 422, "label"},
		{"color", `{"model":"m","objects":[{"label":"a","score":1,"box":{"x":0,"y":0,"w":1,"h":1},"color":"red"}]}`, 422, "color"},
		{"too many objects", big, 422, "at most 256"},
		{"too big", `{"model":"` + strings.Repeat("x", MaxBody) + `"}`, 413, "larger than"},
	} {
		_, err := Parse([]byte(tc.body))
		e, ok := err.(*Error)
		if !ok || e.Status != tc.status || !strings.Contains(e.Msg, tc.says) {
			t.Errorf("%s: got %v, want %d saying %q", tc.name, err, tc.status, tc.says)
		}
	}
	m, err := Parse([]byte(`{"version":1,"pts":4294967295,"model":"yolo","objects":[{"label":"person","score":0.9,"box":{"x":0.1,"y":0.2,"w":0.3,"h":0.4},"track":7,"color":"#FF8800"}]}`))
	if err != nil || *m.PTS != 4294967295 || m.Objects[0].Box.W != 0.3 || *m.Objects[0].Track != 7 {
		t.Fatalf("a good message: %+v, %v", m, err)
	}
}

func TestStoreKeepsAWindowAndDrawsNothingAheadOfTheFrame(t *testing.T) {
	s := NewStore("press-1")
	t0 := time.Now()
	add := func(model string, pts uint32, at time.Duration) {
		m := &Message{Version: 1, Model: model, Objects: []Object{{Label: "part", Score: 1, Box: Box{0, 0, 1, 1}}}}
		s.Add(m, pts, t0.Add(at-50*time.Millisecond), t0.Add(at))
	}
	add("a", 1000, 0)
	add("a", 4600, 40*time.Millisecond)
	add("b", 3000, 50*time.Millisecond)
	add("a", 8200, 80*time.Millisecond)
	now := t0.Add(100 * time.Millisecond)
	got := s.For(5000, now)
	if len(got) != 2 || got[0].Model != "a" || got[0].PTS != 4600 || got[1].Model != "b" || got[1].PTS != 3000 {
		t.Fatalf("For(5000) = %+v: want each model's newest at or before the frame", got)
	}
	if got := s.For(900, now); len(got) != 0 {
		t.Fatalf("For(900) = %+v: nothing is older than that frame", got)
	}
	// Timestamps wrap around: 2^32-100 comes before 200.
	add("b", 1<<32-100, 90*time.Millisecond)
	if got := s.For(200, now); len(got) != 1 || got[0].PTS != 1<<32-100 {
		t.Fatalf("across the wrap, For(200) = %+v", got)
	}
	st := s.Stats(now)
	if st.Total != 5 || st.Model != "b" || st.Labels["part"] != 5 || st.LatencyCount != 5 || st.LatencySum < 0.249 {
		t.Fatalf("stats %+v", st)
	}
	if got := s.Recent(t0.Add(Window + 60*time.Millisecond)); len(got) != 2 {
		t.Fatalf("%d kept after the window, want the 2 younger than it", len(got))
	}
}

func TestStoreCountsAtMostSoManyLabels(t *testing.T) {
	s := NewStore("c")
	now := time.Now()
	for i := 0; i < maxLabels+10; i++ {
		m := &Message{Version: 1, Model: "m", Objects: []Object{{Label: strings.Repeat("x", i+1), Score: 1, Box: Box{0, 0, 1, 1}}}}
		s.Add(m, uint32(i), now, now)
	}
	st := s.Stats(now)
	if len(st.Labels) != maxLabels+1 || st.Labels[OtherLabel] != 10 {
		t.Fatalf("%d labels, %d other", len(st.Labels), st.Labels[OtherLabel])
	}
}
