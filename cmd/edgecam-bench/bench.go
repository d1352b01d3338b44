package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	_ "net/http/pprof" // served only in the -daemon-config mode
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/config"
)

type benchOptions struct {
	Window, Warmup time.Duration
	Profile        string // pprof output directory, "" for none
	Trace          string // Chromium trace output directory (page scenarios), "" for none
	Keep           bool
	Edgecam        []string // daemon binaries, compared in turn; none builds ./cmd/edgecam
	Stagger        time.Duration
	DaemonEnv      []string // extra KEY=VALUE for the daemon only (GOGC, GOMEMLIMIT, GOMAXPROCS)
}

type bench struct {
	opts   benchOptions
	tmp    string
	bin    string // the daemon being measured: one of bins
	bins   []string
	traces int    // Chromium traces written so far (-trace)
	self   string // this binary, for the viewer process
	clips  map[clipSpec][]byte
	http   *http.Client
}

func newBench(ctx context.Context, opts benchOptions) (*bench, error) {
	tmp, err := os.MkdirTemp("", "edgecam-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{opts: opts, tmp: tmp, clips: map[clipSpec][]byte{},
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	if b.self, err = os.Executable(); err != nil {
		return nil, err
	}
	b.bins = opts.Edgecam
	if len(b.bins) == 0 {
		b.bin = filepath.Join(tmp, "edgecam")
		b.bins = []string{b.bin}
		logf("building the daemon (go build ./cmd/edgecam)")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", b.bin, "github.com/edgecam/edgecam/cmd/edgecam")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build the daemon: %v\n%s", err, out)
		}
	}
	b.bin = b.bins[0]
	if opts.Profile != "" {
		if err := os.MkdirAll(opts.Profile, 0o755); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *bench) cleanup() {
	if b.opts.Keep {
		logf("kept %s", b.tmp)
		return
	}
	_ = os.RemoveAll(b.tmp)
}

func (b *bench) clip(ctx context.Context, c clipSpec) ([]byte, error) {
	if d, ok := b.clips[c]; ok {
		return d, nil
	}
	d, err := c.clip(ctx, b.tmp)
	if err == nil {
		b.clips[c] = d
	}
	return d, err
}

// startCameras starts n simulated cameras in this process, each stamping
// every access unit with its send time.
func (b *bench) startCameras(ctx context.Context, sc scenario) ([]*testcamera.Camera, error) {
	data, err := b.clip(ctx, sc.Clip)
	if err != nil {
		return nil, err
	}
	var cams []*testcamera.Camera
	for i := 0; i < sc.Cameras; i++ {
		c, err := testcamera.Start(testcamera.Options{Clip: data, FPS: clipFPS, StampSendTime: true})
		if err != nil {
			for _, c := range cams {
				c.Close()
			}
			return nil, err
		}
		cams = append(cams, c)
	}
	return cams, nil
}

// daemonProc is the daemon under test.
type daemonProc struct {
	cmd       *exec.Cmd
	base      string // http://127.0.0.1:port
	pprof     string // pprof base URL in profile mode
	cameras   []string
	exited    chan struct{}
	logPath   string
	profiling bool
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// startDaemon starts the daemon on cams; subs, if given, are the cameras'
// sub-streams, one each.
func (b *bench) startDaemon(ctx context.Context, sc scenario, cams []*testcamera.Camera, profile bool, subs ...*testcamera.Camera) (*daemonProc, error) {
	httpPort, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	udpPort, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	var cfg strings.Builder
	// All viewers come from one address, as many at once as a scenario has.
	fmt.Fprintf(&cfg, "http:\n  listen: \"127.0.0.1:%d\"\n  sessions_per_minute: 100000\n  connections_per_address: 4096\nauth:\n  mode: none\n", httpPort)
	// Room for every viewer, and in churn for a joining one before the
	// one it replaces has gone.
	maxViewers := max(256, 2*sc.Cameras*sc.PerCamera)
	fmt.Fprintf(&cfg, "webrtc:\n  udp_port: %d\n  interfaces: [lo]\n  max_viewers: %d\n", udpPort, maxViewers)
	fps := 5
	if sc.Detections {
		fps = detectFPS // the models' frame rate
	}
	fmt.Fprintf(&cfg, "log:\n  level: warn\njpeg:\n  keyframes_only: %v\n  fps: %d\ncameras:\n", sc.KeyframesOnly, fps)
	d := &daemonProc{base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), exited: make(chan struct{}), profiling: profile}
	for i, c := range cams {
		name := fmt.Sprintf("cam-%d", i+1)
		d.cameras = append(d.cameras, name)
		fmt.Fprintf(&cfg, "  - name: %s\n    url: %s\n    transport: tcp\n    max_viewers: 64\n", name, c.URL())
		if i < len(subs) {
			fmt.Fprintf(&cfg, "    sub_url: %s\n", subs[i].URL())
		}
		if sc.OnDemand {
			fmt.Fprintf(&cfg, "    on_demand: true\n")
		}
	}
	dir, err := os.MkdirTemp(b.tmp, sc.Name+"-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	d.logPath = filepath.Join(dir, "daemon.log")
	logFile, err := os.Create(d.logPath)
	if err != nil {
		return nil, err
	}
	if profile {
		pp, err := freeTCPPort()
		if err != nil {
			return nil, err
		}
		d.pprof = fmt.Sprintf("http://127.0.0.1:%d", pp)
		d.cmd = exec.Command(b.self, "-daemon-config", path, "-pprof-addr", fmt.Sprintf("127.0.0.1:%d", pp))
	} else {
		d.cmd = exec.Command(b.bin, "run", "--config", path)
	}
	d.cmd.Env = append(os.Environ(), b.opts.DaemonEnv...)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	if err := d.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		_ = d.cmd.Wait()
		logFile.Close()
		close(d.exited)
	}()
	// Every camera streaming, and its sub-stream if it has one, within 20 s;
	// on demand, idle.
	deadline := time.Now().Add(20 * time.Second)
	for _, name := range d.cameras {
		for {
			var cj struct {
				State string
				Sub   *struct{ State string }
			}
			err := b.getJSON(d.base+"/api/cameras/"+name, &cj)
			up := func(state string) bool { return state == "streaming" || sc.OnDemand && state == "idle" }
			if err == nil && up(cj.State) && (len(subs) == 0 || cj.Sub != nil && up(cj.Sub.State)) {
				break
			}
			select {
			case <-d.exited:
				return nil, fmt.Errorf("daemon exited at start; log %s", d.logPath)
			case <-ctx.Done():
				d.stop()
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				d.stop()
				return nil, fmt.Errorf("camera %s not streaming after 20 s (state %q, %v); log %s", name, cj.State, err, d.logPath)
			}
		}
	}
	return d, nil
}

// stop ends the daemon with SIGTERM, then SIGKILL after 5 s.
func (d *daemonProc) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

func (d *daemonProc) pid() int { return d.cmd.Process.Pid }

func (b *bench) getJSON(url string, v any) error {
	resp, err := b.http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// goroutines reads go_goroutines from the daemon's /metrics; -1 if the
// daemon does not serve it.
func (b *bench) goroutines(d *daemonProc) int {
	resp, err := b.http.Get(d.base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return -1
}

// cpuWindow measures the daemon (and its children) over the window,
// sampling RSS twice a second.
type cpuSample struct {
	daemonCPU, childCPU      float64   // % of one core
	rssMax, rssStart, rssEnd float64   // MB
	rssMinutes               []float64 // MB at the end of each whole minute of the window
	children                 int       // child processes at the end
}

func (b *bench) measure(ctx context.Context, d *daemonProc, window time.Duration) (cpuSample, error) {
	pid := d.pid()
	t0, _, ok := cpuTicks(pid)
	if !ok {
		return cpuSample{}, errors.New("daemon is gone")
	}
	c0 := childTicks(pid)
	start := time.Now()
	s := cpuSample{rssStart: rssMB(pid)}
	s.rssMax = s.rssStart
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < window {
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-d.exited:
			return s, fmt.Errorf("daemon exited during the window; log %s", d.logPath)
		case <-tick.C:
			rss := rssMB(pid)
			s.rssMax = max(s.rssMax, rss)
			// A long run also keeps RSS minute by minute, so growth shows
			// as a trend rather than only as start and end.
			if time.Since(start) >= time.Duration(len(s.rssMinutes)+1)*time.Minute {
				s.rssMinutes = append(s.rssMinutes, rss)
			}
		}
	}
	t1, _, _ := cpuTicks(pid)
	c1 := childTicks(pid)
	el := time.Since(start).Seconds()
	s.rssEnd = rssMB(pid)
	s.rssMax = max(s.rssMax, s.rssEnd)
	s.daemonCPU = float64(t1-t0) / clockTicks / el * 100
	s.childCPU = float64(childDelta(c0, c1)) / clockTicks / el * 100
	s.children = len(c1)
	return s, nil
}

// profile fetches a CPU profile over the window, then a heap/allocs profile.
func (b *bench) startProfile(d *daemonProc, name string, window time.Duration) func() {
	if !d.profiling {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		secs := int(window.Seconds())
		b.fetch(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", d.pprof, secs), filepath.Join(b.opts.Profile, name+".cpu.pprof"), window+10*time.Second)
	}()
	return func() {
		wg.Wait()
		b.fetch(d.pprof+"/debug/pprof/allocs", filepath.Join(b.opts.Profile, name+".allocs.pprof"), 10*time.Second)
		logf("%s: profiles in %s", name, b.opts.Profile)
	}
}

func (b *bench) fetch(url, path string, timeout time.Duration) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		logf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		logf("profile: %v", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// viewerProc is the viewer process.
type viewerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func (b *bench) startViewers(sc scenario, d *daemonProc) (*viewerProc, error) {
	spec := viewerSpec{PerCamera: sc.PerCamera, Churn: sc.Churn, Stagger: b.opts.Stagger, KernelBuffer: sc.KernelBuffer}
	for _, n := range d.cameras {
		u := d.base + "/cameras/" + n + "/whep"
		if sc.KeyframeStart {
			u += "?start=keyframe"
		}
		spec.Endpoints = append(spec.Endpoints, u)
	}
	js, _ := json.Marshal(spec)
	v := &viewerProc{cmd: exec.Command(b.self, "-viewers", string(js))}
	v.cmd.Stderr = os.Stderr
	var err error
	if v.stdin, err = v.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := v.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	v.out = bufio.NewScanner(stdout)
	v.out.Buffer(make([]byte, 1<<20), 64<<20)
	if err := v.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan bool, 1)
	go func() { ready <- v.out.Scan() && v.out.Text() == "ready" }()
	select {
	case ok := <-ready:
		if !ok {
			v.kill()
			return nil, errors.New("viewer process failed before ready")
		}
	case <-time.After(60 * time.Second):
		v.kill()
		return nil, errors.New("viewers not ready after 60 s")
	}
	return v, nil
}

func (v *viewerProc) send(line string) { _, _ = io.WriteString(v.stdin, line+"\n") }

// result asks for the window's result and waits for the process to end.
func (v *viewerProc) result() (viewerResult, error) {
	var r viewerResult
	v.send("stop")
	got := make(chan error, 1)
	go func() {
		if !v.out.Scan() {
			got <- errors.New("viewer process ended without a result")
			return
		}
		got <- json.Unmarshal(v.out.Bytes(), &r)
	}()
	var err error
	select {
	case err = <-got:
	case <-time.After(30 * time.Second):
		err = errors.New("no result from the viewer process after 30 s")
	}
	v.stdin.Close()
	done := make(chan struct{})
	go func() { _ = v.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = v.cmd.Process.Kill()
		<-done
	}
	return r, err
}

func (v *viewerProc) kill() {
	_ = v.cmd.Process.Kill()
	_ = v.cmd.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// webrtcRun is one run of a WebRTC scenario.
type webrtcRun struct {
	DaemonCPU   float64   `json:"daemon_cpu_pct"`
	RSSMB       float64   `json:"rss_mb_max"`
	RSSStartMB  float64   `json:"rss_mb_start"`
	RSSEndMB    float64   `json:"rss_mb_end"`
	RSSMinutes  []float64 `json:"rss_mb_each_minute,omitempty"`
	Goroutines  int       `json:"goroutines"` // -1: not available
	Viewers     int       `json:"viewer_sessions"`
	Failed      int       `json:"viewers_failed"`
	TTFFms      []float64 `json:"ttff_ms"`
	TTFFMedian  float64   `json:"ttff_ms_median"`
	TTFFMax     float64   `json:"ttff_ms_max"`
	FirstMedian float64   `json:"first_unit_ms_median"`
	FirstMax    float64   `json:"first_unit_ms_max"`
	AnswerMed   float64   `json:"answer_ms_median"`
	AnswerMax   float64   `json:"answer_ms_max"`
	ConnMed     float64   `json:"connected_ms_median"`
	ConnMax     float64   `json:"connected_ms_max"`
	LatP50      float64   `json:"latency_ms_p50"`
	LatP95      float64   `json:"latency_ms_p95"`
	LatP99      float64   `json:"latency_ms_p99"`
	Frames      int64     `json:"frames_received"`
	Lost        int64     `json:"frames_lost"`
	Unrepaired  int64     `json:"packets_unrepaired"`
	Missed      int64     `json:"packets_missed"`
	ReplayMiss  int64     `json:"packets_missed_in_replay"`
	Profiled    bool      `json:"profiled,omitempty"`
}

// setUp starts a scenario's cameras and the daemon pulling them; stop
// ends both. The first run of a scenario is profiled when asked to.
func (b *bench) setUp(ctx context.Context, sc scenario, first bool) (*daemonProc, func(), error) {
	cams, err := b.startCameras(ctx, sc)
	if err != nil {
		return nil, nil, err
	}
	closeCams := func() {
		for _, c := range cams {
			c.Close()
		}
	}
	d, err := b.startDaemon(ctx, sc, cams, first && b.opts.Profile != "")
	if err != nil {
		closeCams()
		return nil, nil, err
	}
	return d, func() { d.stop(); closeCams() }, nil
}

func (b *bench) runWebRTC(ctx context.Context, sc scenario, first bool) (webrtcRun, error) {
	var r webrtcRun
	d, stop, err := b.setUp(ctx, sc, first)
	if err != nil {
		return r, err
	}
	defer stop()
	r.Profiled = d.profiling
	var vp *viewerProc
	if sc.PerCamera > 0 {
		if vp, err = b.startViewers(sc, d); err != nil {
			return r, err
		}
		defer func() {
			if vp != nil {
				vp.kill()
			}
		}()
	}
	if err := sleepCtx(ctx, b.opts.Warmup); err != nil {
		return r, err
	}
	if vp != nil {
		vp.send("start")
	}
	done := b.startProfile(d, sc.Name, b.opts.Window)
	s, err := b.measure(ctx, d, b.opts.Window)
	r.Goroutines = b.goroutines(d)
	var vr viewerResult
	if vp != nil {
		vr, err = vp.result()
		vp = nil
	}
	done()
	if err != nil {
		return r, err
	}
	r.DaemonCPU, r.RSSMB, r.RSSStartMB, r.RSSEndMB, r.RSSMinutes = s.daemonCPU, s.rssMax, s.rssStart, s.rssEnd, s.rssMinutes
	if len(s.rssMinutes) > 0 {
		logf("%s: RSS MB at the start and after each minute: %.1f %s", sc.Name, s.rssStart, fmtList(s.rssMinutes))
	}
	r.Viewers, r.Failed, r.TTFFms, r.Frames, r.Lost, r.Unrepaired, r.Missed = vr.Sessions, vr.Failed, vr.TTFFms, vr.Frames, vr.Lost, vr.Unrepaired, vr.Missed
	r.ReplayMiss = vr.ReplayMissed
	r.TTFFMedian = percentile(vr.TTFFms, 50)
	r.TTFFMax = percentile(vr.TTFFms, 100)
	r.FirstMedian, r.FirstMax = percentile(vr.FirstMs, 50), percentile(vr.FirstMs, 100)
	r.AnswerMed, r.AnswerMax = percentile(vr.AnswerMs, 50), percentile(vr.AnswerMs, 100)
	r.ConnMed, r.ConnMax = percentile(vr.ConnMs, 50), percentile(vr.ConnMs, 100)
	if sc.PerCamera*sc.Cameras >= 20 {
		logf("%s: POST→answer ms %.0f / %.0f, POST→connected %.0f / %.0f (median / worst)", sc.Name, r.AnswerMed, r.AnswerMax, r.ConnMed, r.ConnMax)
	}
	r.LatP50, r.LatP95, r.LatP99 = percentile(vr.LatencyMs, 50), percentile(vr.LatencyMs, 95), percentile(vr.LatencyMs, 99)
	return r, nil
}

// percentile of xs (nearest rank); 0 for none.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// jpegRun is one run of a JPEG scenario.
type jpegRun struct {
	IdleDaemonCPU  float64 `json:"idle_daemon_cpu_pct"`
	IdleDecoders   int     `json:"idle_ffmpeg_processes"`
	SnapshotColdMs float64 `json:"snapshot_cold_ms"`
	SnapshotWarmMs float64 `json:"snapshot_warm_ms"`
	FirstJPEGms    float64 `json:"first_jpeg_ms"`
	Daemon1CPU     float64 `json:"daemon_cpu_pct_1_reader"`
	FFmpeg1CPU     float64 `json:"ffmpeg_cpu_pct_1_reader"`
	FPS1           float64 `json:"jpeg_per_s_1_reader"`
	Daemon5CPU     float64 `json:"daemon_cpu_pct_5_readers"`
	FFmpeg5CPU     float64 `json:"ffmpeg_cpu_pct_5_readers"`
	FPS5           float64 `json:"jpeg_per_s_5_readers"`
	RSSMB          float64 `json:"rss_mb_max"`
	Profiled       bool    `json:"profiled,omitempty"`
}

// mjpegReader reads one MJPEG stream and counts its pictures.
type mjpegReader struct {
	first  chan time.Duration
	frames atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

func (b *bench) openMJPEG(ctx context.Context, url string) *mjpegReader {
	ctx, cancel := context.WithCancel(ctx)
	m := &mjpegReader{first: make(chan time.Duration, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(resp.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, p); err != nil {
				return
			}
			if m.frames.Add(1) == 1 {
				m.first <- time.Since(start)
			}
		}
	}()
	return m
}

func (m *mjpegReader) close() { m.cancel(); <-m.done }

func (b *bench) snapshot(url string) (float64, error) {
	start := time.Now()
	resp, err := b.http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("snapshot: %s", resp.Status)
	}
	return float64(time.Since(start)) / 1e6, nil
}

func (b *bench) runJPEG(ctx context.Context, sc scenario, first bool) (jpegRun, error) {
	var r jpegRun
	d, stop, err := b.setUp(ctx, sc, first)
	if err != nil {
		return r, err
	}
	defer stop()
	r.Profiled = d.profiling
	cam := d.base + "/cameras/" + d.cameras[0]
	if err := sleepCtx(ctx, b.opts.Warmup); err != nil {
		return r, err
	}
	if !sc.KeyframesOnly {
		// No JPEG viewer: no decoder may run.
		s, err := b.measure(ctx, d, b.opts.Window)
		if err != nil {
			return r, err
		}
		r.IdleDaemonCPU, r.IdleDecoders, r.RSSMB = s.daemonCPU, s.children, s.rssMax
	}
	if r.SnapshotColdMs, err = b.snapshot(cam + "/snapshot.jpg"); err != nil {
		return r, err
	}
	// Wait for the snapshot's decoder to stop (jpeg.idle_stop, 5 s), so
	// the first MJPEG picture is measured cold too.
	for deadline := time.Now().Add(15 * time.Second); len(childTicks(d.pid())) > 0 && time.Now().Before(deadline); {
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return r, err
		}
	}
	readers := []*mjpegReader{b.openMJPEG(ctx, cam+"/mjpeg")}
	defer func() {
		for _, m := range readers {
			m.close()
		}
	}()
	select {
	case f := <-readers[0].first:
		r.FirstJPEGms = float64(f) / 1e6
	case <-time.After(15 * time.Second):
		return r, errors.New("no MJPEG picture within 15 s")
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return r, err
	}
	done := b.startProfile(d, sc.Name, b.opts.Window)
	n0 := readers[0].frames.Load()
	s, err := b.measure(ctx, d, b.opts.Window)
	done()
	if err != nil {
		return r, err
	}
	r.Daemon1CPU, r.FFmpeg1CPU, r.RSSMB = s.daemonCPU, s.childCPU, max(r.RSSMB, s.rssMax)
	r.FPS1 = float64(readers[0].frames.Load()-n0) / b.opts.Window.Seconds()
	var warm []float64
	for i := 0; i < 5; i++ {
		ms, err := b.snapshot(cam + "/snapshot.jpg")
		if err != nil {
			return r, err
		}
		warm = append(warm, ms)
	}
	r.SnapshotWarmMs = percentile(warm, 50)
	if sc.KeyframesOnly {
		return r, nil
	}
	for i := 0; i < 4; i++ {
		readers = append(readers, b.openMJPEG(ctx, cam+"/mjpeg"))
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return r, err
	}
	var counts []int64
	for _, m := range readers {
		counts = append(counts, m.frames.Load())
	}
	s, err = b.measure(ctx, d, b.opts.Window)
	if err != nil {
		return r, err
	}
	var total int64
	for i, m := range readers {
		total += m.frames.Load() - counts[i]
	}
	r.Daemon5CPU, r.FFmpeg5CPU, r.RSSMB = s.daemonCPU, s.childCPU, max(r.RSSMB, s.rssMax)
	r.FPS5 = float64(total) / float64(len(readers)) / b.opts.Window.Seconds()
	return r, nil
}

// runProfiledDaemon runs the daemon inside this binary with a pprof
// listener: the -profile mode. edgecam itself has no profiling endpoint.
func runProfiledDaemon(path, pprofAddr string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.DefaultServeMux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	level := daemon.NewLevel(cfg.Log.Level)
	// AdaptProcs as the edgecam program sets it, so the profile is of the
	// same scheduling.
	dm, err := daemon.New(cfg, daemon.Options{Logger: daemon.NewLogger(os.Stderr, level), LogLevel: level, Version: "bench", AdaptProcs: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	if err := dm.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strings.Join(parts, " ")
}
