package detections

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// busyMessage is a model's message about a busy scene: n objects.
func busyMessage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"version": 1, "pts": 3150000, "model": "yolov8n-helmets", "objects": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"label": "person", "score": 0.%02d, "box": {"x": 0.%d, "y": 0.%d5, "w": 0.15, "h": 0.2}, "track": %d}`, 50+i, i%9, i%4, i)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// What a posted message of 20 objects costs the daemon besides HTTP:
// parse and check, keep (a model at 10 messages a second), and encode
// once for the viewers.
func BenchmarkDetectionMessage(b *testing.B) {
	data := busyMessage(20)
	s := NewStore("press-1")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		now = now.Add(100 * time.Millisecond)
		d := s.Add(m, 3150000, now, now)
		_ = d.AppendJSON(nil)
	}
}

func BenchmarkParse(b *testing.B) {
	data := busyMessage(20)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
