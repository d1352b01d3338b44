// Command edgecam-bench measures what edgecam costs: it starts simulated
// RTSP cameras, the edgecam daemon as a separate process and WHEP viewers in
// another process, all on loopback, and reports the daemon's CPU, memory and
// goroutines, each viewer's wait for its first picture, the relay latency
// and lost frames, the cost of the JPEG fallbacks, and that of vision
// models reading frames and posting detections.
//
//	go run ./cmd/edgecam-bench                                # every scenario once, 10 s windows
//	edgecam-bench -scenario all -repeat 3 -window 20s -json out.json
//	edgecam-bench -scenario 1080p-1v -profile prof/           # also pprof CPU and allocs of the daemon
//	edgecam-bench -scenario 4x1080p@6M-3v,720p-jpeg           # any setup, named as scenarioGrammar says
//	edgecam-bench -scenario 8x360p-1v -repeat 5 -edgecam ./a,./b  # A/B: runs interleaved
//
// The cameras run in the bench process and the viewers in a child process
// (this binary with -viewers), so neither is counted in the daemon's CPU.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "edgecam-bench: "+format+"\n", args...)
}

func main() {
	var (
		which   = flag.String("scenario", "all", "comma-separated scenarios to run, or all: "+scenarioNames()+"; or any setup named as "+scenarioGrammar)
		repeat  = flag.Int("repeat", 1, "runs of each scenario; figures are the median and min–max over them")
		win     = flag.Duration("window", 10*time.Second, "measurement window of each run")
		warmup  = flag.Duration("warmup", 3*time.Second, "time between the last viewer's first picture and the window")
		jsonOut = flag.String("json", "", "write the results to this file as JSON")
		trace   = flag.String("trace", "", "directory for a Chromium trace (chrome://tracing, Perfetto) of the last load of every run of a page scenario")
		profile = flag.String("profile", "", "directory for pprof CPU and allocs profiles of the daemon (first run of each scenario); the daemon then runs inside this binary with a pprof listener")
		keep    = flag.Bool("keep", false, "keep the temporary directory (daemon logs, configs)")
		denv    = flag.String("daemon-env", "", "comma-separated KEY=VALUE set for the daemon only, e.g. GOGC=50,GOMEMLIMIT=200MiB")
		stagger = flag.Duration("stagger", 0, "space the viewers' joins by this much (default: all at once)")
		edgecam = flag.String("edgecam", "", "the edgecam binary to measure; default: go build ./cmd/edgecam (needs the Go toolchain and the source tree). Two or more, comma-separated, are compared: each run of a scenario runs them in turn (A, B, A, B, …), so that drift in the machine's load touches all alike")
		floor   = flag.Bool("floor", false, "instead of the scenarios, measure what a bare Go relay costs on this machine (woken per packet, one send per frame, no RTP), for -window each")
		// Hidden modes: this binary re-executed as the viewer process, or
		// as the daemon with a pprof listener.
		viewers = flag.String("viewers", "", "")
		daemonC = flag.String("daemon-config", "", "")
		pprofA  = flag.String("pprof-addr", "", "")
		floorC  = flag.String("floor-cameras", "", "")
	)
	flag.Parse()
	switch {
	case *floorC != "":
		if err := runFloorCameras(*floorC); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	case *floor:
		ctx, stop := signalContext()
		defer stop()
		if err := runFloor(ctx, *win); err != nil {
			logf("floor: %v", err)
			os.Exit(1)
		}
		return
	case *viewers != "":
		if err := runViewers(*viewers); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	case *daemonC != "":
		os.Exit(runProfiledDaemon(*daemonC, *pprofA))
	}

	var run []scenario
	if *which == "all" {
		run = scenarios
	} else {
		for _, n := range strings.Split(*which, ",") {
			sc, err := findScenario(strings.TrimSpace(n))
			if err != nil {
				logf("%v", err)
				os.Exit(2)
			}
			run = append(run, sc)
		}
	}
	if *repeat < 1 || *win < time.Second {
		logf("-repeat must be at least 1 and -window at least 1s")
		os.Exit(2)
	}
	ctx, stop := signalContext()
	defer stop()
	if slices.ContainsFunc(run, func(sc scenario) bool { return sc.Grid || sc.Page }) && os.Getenv(benchNetnsEnv) == "" {
		code := runInBenchNetns(ctx)
		stop()
		os.Exit(code)
	}

	b, err := newBench(ctx, benchOptions{Window: *win, Warmup: *warmup, Profile: *profile, Trace: *trace, Keep: *keep, Edgecam: splitList(*edgecam), Stagger: *stagger, DaemonEnv: splitList(*denv)})
	if err != nil {
		logf("%v", err)
		os.Exit(1)
	}
	defer b.cleanup()

	rep := report{
		Machine: machine{CPU: cpuModel(), Cores: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Go: runtime.Version()},
		Command: "edgecam-bench " + strings.Join(os.Args[1:], " "),
		Window:  win.String(), Repeat: *repeat, Started: time.Now().UTC(), DaemonEnv: splitList(*denv),
	}
	for _, sc := range run {
		rep.Scenarios = append(rep.Scenarios, b.runScenario(ctx, sc, *repeat)...)
	}
	rep.print(os.Stdout)
	if *jsonOut != "" {
		out, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, append(out, '\n'), 0o644); err != nil {
			logf("%v", err)
			os.Exit(1)
		}
	}
}

// runScenario runs sc repeat times with each binary in turn and returns one
// result per binary, named after it when there are several.
func (b *bench) runScenario(ctx context.Context, sc scenario, repeat int) []scenarioResult {
	res := make([]scenarioResult, len(b.bins))
	for i, bin := range b.bins {
		res[i] = scenarioResult{Name: sc.Name, About: sc.About}
		if len(b.bins) > 1 {
			res[i].Name += " [" + filepath.Base(bin) + "]"
		}
	}
	for r := 0; r < repeat && ctx.Err() == nil; r++ {
		for i, bin := range b.bins {
			b.bin = bin
			logf("%s: run %d/%d", res[i].Name, r+1, repeat)
			profile := r == 0 && i == 0
			var err error
			switch {
			case sc.Page:
				var pr pageRun
				pr, err = b.runPage(ctx, sc, profile)
				res[i].PageRuns = append(res[i].PageRuns, pr)
			case sc.Grid:
				var gr gridRun
				gr, err = b.runGrid(ctx, sc, profile)
				res[i].GridRuns = append(res[i].GridRuns, gr)
			case sc.vision():
				var vr visionRun
				vr, err = b.runVision(ctx, sc, profile)
				res[i].VisionRuns = append(res[i].VisionRuns, vr)
			case sc.JPEG:
				var jr jpegRun
				jr, err = b.runJPEG(ctx, sc, profile)
				res[i].JPEGRuns = append(res[i].JPEGRuns, jr)
			default:
				var wr webrtcRun
				wr, err = b.runWebRTC(ctx, sc, profile)
				res[i].Runs = append(res[i].Runs, wr)
			}
			if err != nil {
				logf("%s: %v", res[i].Name, err)
				res[i].Errors = append(res[i].Errors, err.Error())
			}
		}
	}
	for i := range res {
		res[i].summarize()
	}
	return res
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
