package promtext

import (
	"math"
	"strings"
	"testing"
)

// What Prometheus's parser needs: every family's samples together under one
// HELP and TYPE, label values escaped, and special values spelled its way.
func TestFamiliesWriteGroupedAndEscaped(t *testing.T) {
	var fs Families
	fs.Add("cam_up", Gauge, "1 while up.\nSecond line \\ here.", 1, "camera", "press-1")
	fs.Add("cam_frames_total", Counter, "Frames.", 12345678901, "camera", "press-1")
	fs.Add("cam_up", Gauge, "ignored: the first help stays", 0, "camera", `odd "name"\`+"\n")
	fs.Add("no_labels", Gauge, "x", math.Inf(1))
	fs.Add("nan", Gauge, "x", math.NaN())
	var b strings.Builder
	w := NewWriter(&b)
	fs.Write(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `# HELP cam_up 1 while up.\nSecond line \\ here.
# TYPE cam_up gauge
cam_up{camera="press-1"} 1
cam_up{camera="odd \"name\"\\\n"} 0
# HELP cam_frames_total Frames.
# TYPE cam_frames_total counter
cam_frames_total{camera="press-1"} 1.2345678901e+10
# HELP no_labels x
# TYPE no_labels gauge
no_labels +Inf
# HELP nan x
# TYPE nan gauge
nan NaN
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// The standard series dashboards and the bench read are there, with
// plausible values.
func TestRuntimeAndProcessSeries(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	WriteGo(w)
	WriteProcess(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, series := range []string{"go_goroutines ", "go_memstats_alloc_bytes ", "go_threads ", "go_info{version=",
		"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ", "process_start_time_seconds "} {
		if !strings.Contains(out, "\n"+series) {
			t.Errorf("no %s series in:\n%s", series, out)
		}
	}
}
