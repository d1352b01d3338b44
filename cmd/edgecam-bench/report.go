package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

type machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	Go     string `json:"go"`
}

type report struct {
	Machine   machine          `json:"machine"`
	Command   string           `json:"command"`
	Window    string           `json:"window"`
	Repeat    int              `json:"repeat"`
	DaemonEnv []string         `json:"daemon_env,omitempty"`
	Started   time.Time        `json:"started"`
	Scenarios []scenarioResult `json:"scenarios"`
}

// stat is a figure over repeats.
type stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

type scenarioResult struct {
	Name     string      `json:"name"`
	About    string      `json:"about"`
	Runs     []webrtcRun `json:"runs,omitempty"`
	JPEGRuns []jpegRun   `json:"jpeg_runs,omitempty"`
	// VisionRuns are those of the frames and detections scenarios.
	VisionRuns []visionRun `json:"vision_runs,omitempty"`
	// GridRuns are those of the grid scenarios (grid.go).
	GridRuns []gridRun `json:"grid_runs,omitempty"`
	// PageRuns are those of the page scenarios (page.go).
	PageRuns []pageRun       `json:"page_runs,omitempty"`
	Summary  map[string]stat `json:"summary"`
	Errors   []string        `json:"errors,omitempty"`
}

func (r *scenarioResult) summarize() {
	r.Summary = map[string]stat{}
	col := func(name string, f func(i int) (float64, bool), n int) {
		var xs []float64
		for i := 0; i < n; i++ {
			if v, ok := f(i); ok {
				xs = append(xs, v)
			}
		}
		if len(xs) > 0 {
			r.Summary[name] = statOf(xs)
		}
	}
	n := len(r.Runs)
	w := func(name string, f func(x webrtcRun) float64, ok func(x webrtcRun) bool) {
		col(name, func(i int) (float64, bool) { return f(r.Runs[i]), ok == nil || ok(r.Runs[i]) }, n)
	}
	hasViewers := func(x webrtcRun) bool { return x.Viewers > 0 }
	w("daemon_cpu_pct", func(x webrtcRun) float64 { return x.DaemonCPU }, nil)
	w("rss_mb", func(x webrtcRun) float64 { return x.RSSMB }, nil)
	w("rss_growth_mb", func(x webrtcRun) float64 { return x.RSSEndMB - x.RSSStartMB }, nil)
	w("goroutines", func(x webrtcRun) float64 { return float64(x.Goroutines) }, func(x webrtcRun) bool { return x.Goroutines >= 0 })
	w("ttff_ms", func(x webrtcRun) float64 { return x.TTFFMedian }, hasViewers)
	w("ttff_ms_max", func(x webrtcRun) float64 { return x.TTFFMax }, hasViewers)
	w("first_unit_ms", func(x webrtcRun) float64 { return x.FirstMedian }, hasViewers)
	w("first_unit_ms_max", func(x webrtcRun) float64 { return x.FirstMax }, hasViewers)
	w("latency_ms_p50", func(x webrtcRun) float64 { return x.LatP50 }, hasViewers)
	w("latency_ms_p95", func(x webrtcRun) float64 { return x.LatP95 }, hasViewers)
	w("latency_ms_p99", func(x webrtcRun) float64 { return x.LatP99 }, hasViewers)
	w("frames_lost", func(x webrtcRun) float64 { return float64(x.Lost) }, hasViewers)
	w("frames_received", func(x webrtcRun) float64 { return float64(x.Frames) }, hasViewers)
	w("packets_unrepaired", func(x webrtcRun) float64 { return float64(x.Unrepaired) }, hasViewers)
	w("packets_missed", func(x webrtcRun) float64 { return float64(x.Missed) }, hasViewers)
	w("packets_missed_in_replay", func(x webrtcRun) float64 { return float64(x.ReplayMiss) }, hasViewers)
	w("viewers_failed", func(x webrtcRun) float64 { return float64(x.Failed) }, hasViewers)

	n = len(r.JPEGRuns)
	j := func(name string, f func(x jpegRun) float64) {
		col(name, func(i int) (float64, bool) {
			v := f(r.JPEGRuns[i])
			return v, v != 0 || name == "idle_ffmpeg_processes"
		}, n)
	}
	j("idle_daemon_cpu_pct", func(x jpegRun) float64 { return x.IdleDaemonCPU })
	j("idle_ffmpeg_processes", func(x jpegRun) float64 { return float64(x.IdleDecoders) })
	j("snapshot_cold_ms", func(x jpegRun) float64 { return x.SnapshotColdMs })
	j("snapshot_warm_ms", func(x jpegRun) float64 { return x.SnapshotWarmMs })
	j("first_jpeg_ms", func(x jpegRun) float64 { return x.FirstJPEGms })
	j("daemon_cpu_pct_1", func(x jpegRun) float64 { return x.Daemon1CPU })
	j("ffmpeg_cpu_pct_1", func(x jpegRun) float64 { return x.FFmpeg1CPU })
	j("jpeg_per_s_1", func(x jpegRun) float64 { return x.FPS1 })
	j("daemon_cpu_pct_5", func(x jpegRun) float64 { return x.Daemon5CPU })
	j("ffmpeg_cpu_pct_5", func(x jpegRun) float64 { return x.FFmpeg5CPU })
	j("jpeg_per_s_5", func(x jpegRun) float64 { return x.FPS5 })
	j("rss_mb", func(x jpegRun) float64 { return x.RSSMB })
	r.summarizeVision(col)
	r.summarizeGrid(col)
}

// cell formats a figure: the median, and the range when there are repeats.
func (r *scenarioResult) cell(name, format string) string {
	s, ok := r.Summary[name]
	if !ok {
		return "n/a"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf(format, s.Median)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s.Median, s.Min, s.Max)
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nedgecam-bench on %s, %d cores, %s/%s, %s; window %s, %d run(s) each; median (min–max)\n\n",
		rep.Machine.CPU, rep.Machine.Cores, rep.Machine.GOOS, rep.Machine.GOARCH, rep.Machine.Go, rep.Window, rep.Repeat)
	if len(rep.DaemonEnv) > 0 {
		fmt.Fprintf(w, "daemon environment: %s\n\n", strings.Join(rep.DaemonEnv, " "))
	}
	row := func(cells ...string) { fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |") }
	rep.printRelay(row)
	// The vision and grid tables, each only when one of its scenarios ran.
	for _, t := range []struct {
		header []string
		ran    func(r scenarioResult) bool
		rows   func(r *scenarioResult, row func(cells ...string))
	}{
		{visionHeader, func(r scenarioResult) bool { return len(r.VisionRuns) > 0 }, (*scenarioResult).printVision},
		{gridHeader, func(r scenarioResult) bool { return len(r.GridRuns) > 0 }, (*scenarioResult).printGrid},
		{pageHeader, func(r scenarioResult) bool { return len(r.PageRuns) > 0 }, (*scenarioResult).printPage},
	} {
		if !slices.ContainsFunc(rep.Scenarios, t.ran) {
			continue
		}
		fmt.Fprintln(w)
		row(t.header...)
		row(slices.Repeat([]string{"---"}, len(t.header))...)
		for i := range rep.Scenarios {
			t.rows(&rep.Scenarios[i], row)
		}
	}
	for _, r := range rep.Scenarios {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "\n%s: error: %s", r.Name, e)
		}
	}
	fmt.Fprintln(w)
}

// printRelay prints the table of the viewer and JPEG scenarios, if any ran.
func (rep *report) printRelay(row func(cells ...string)) {
	if !slices.ContainsFunc(rep.Scenarios, func(r scenarioResult) bool { return len(r.Runs)+len(r.JPEGRuns) > 0 }) {
		return
	}
	row("scenario", "daemon CPU % of a core", "RSS MB", "goroutines", "POST→IDR arrives ms (median / worst)", "POST→IDR complete ms (median / worst)", "relay latency ms p50 / p95 / p99", "frames lost / received; RTP packets missed (NACKed): in the cached GOP, in all / unrepaired")
	row("---", "---", "---", "---", "---", "---", "---", "---")
	for i := range rep.Scenarios {
		r := &rep.Scenarios[i]
		if len(r.Runs) == 0 {
			continue
		}
		first, ttff, lat, lost := "—", "—", "—", "—"
		if _, ok := r.Summary["ttff_ms"]; ok {
			first = r.cell("first_unit_ms", "%.0f") + " / " + r.cell("first_unit_ms_max", "%.0f")
			ttff = r.cell("ttff_ms", "%.0f") + " / " + r.cell("ttff_ms_max", "%.0f")
			lat = r.cell("latency_ms_p50", "%.2f") + " / " + r.cell("latency_ms_p95", "%.2f") + " / " + r.cell("latency_ms_p99", "%.2f")
			lost = r.cell("frames_lost", "%.0f") + " / " + r.cell("frames_received", "%.0f") + "; " + r.cell("packets_missed_in_replay", "%.0f") + ", " + r.cell("packets_missed", "%.0f") + " / " + r.cell("packets_unrepaired", "%.0f")
			if f := r.Summary["viewers_failed"]; f.Max > 0 {
				lost += "; viewers failed " + r.cell("viewers_failed", "%.0f")
			}
		}
		row(r.Name, r.cell("daemon_cpu_pct", "%.2f"), r.cell("rss_mb", "%.1f"), r.cell("goroutines", "%.0f"), first, ttff, lat, lost)
	}
	for i := range rep.Scenarios {
		r := &rep.Scenarios[i]
		if len(r.JPEGRuns) == 0 {
			continue
		}
		if _, ok := r.Summary["idle_daemon_cpu_pct"]; ok {
			row(r.Name+", 0 readers", r.cell("idle_daemon_cpu_pct", "%.2f"), r.cell("rss_mb", "%.1f"), "", "", "ffmpeg processes: "+r.cell("idle_ffmpeg_processes", "%.0f"), "", "")
		}
		row(r.Name+", 1 MJPEG reader", r.cell("daemon_cpu_pct_1", "%.2f")+" + ffmpeg "+r.cell("ffmpeg_cpu_pct_1", "%.1f"), r.cell("rss_mb", "%.1f"), "", "",
			"first JPEG "+r.cell("first_jpeg_ms", "%.0f"), "snapshot cold "+r.cell("snapshot_cold_ms", "%.0f")+" / warm "+r.cell("snapshot_warm_ms", "%.1f"), r.cell("jpeg_per_s_1", "%.1f")+" JPEG/s")
		if _, ok := r.Summary["daemon_cpu_pct_5"]; ok {
			row(r.Name+", 5 MJPEG readers", r.cell("daemon_cpu_pct_5", "%.2f")+" + ffmpeg "+r.cell("ffmpeg_cpu_pct_5", "%.1f"), "", "", "", "", "", r.cell("jpeg_per_s_5", "%.1f")+" JPEG/s each")
		}
	}
}
