package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/daemon/api"
)

// visionRun is what the vision scenarios measure: model readers on
// /frames against MJPEG readers at the same size and rate, and detections
// posted back.
type visionRun struct {
	IdleDaemonCPU float64 `json:"idle_daemon_cpu_pct"`
	IdleDecoders  int     `json:"idle_ffmpeg_processes"`

	// One /frames reader per camera, bgr24 at framesWidth and framesFPS.
	FramesDaemonCPU float64 `json:"frames_daemon_cpu_pct,omitempty"`
	FramesFFmpegCPU float64 `json:"frames_ffmpeg_cpu_pct,omitempty"`
	FramesRSSMB     float64 `json:"frames_daemon_rss_mb,omitempty"`
	FramesFFmpegPSS float64 `json:"frames_ffmpeg_pss_mb,omitempty"`
	FramesPerSec    float64 `json:"frames_per_s_each,omitempty"`
	FramesDropped   int64   `json:"frames_dropped,omitempty"`
	FirstFrameMs    float64 `json:"first_frame_ms,omitempty"`
	// Camera's frame received by the daemon → its picture read by the
	// model, ms.
	FramesLatP50 float64 `json:"frames_latency_ms_p50,omitempty"`
	FramesLatP95 float64 `json:"frames_latency_ms_p95,omitempty"`
	// Of which: received → picture out of ffmpeg.
	FramesDecodeP50 float64 `json:"frames_decode_ms_p50,omitempty"`
	// The same cameras, one MJPEG reader each at the same size and rate.
	MJPEGDaemonCPU float64 `json:"mjpeg_daemon_cpu_pct,omitempty"`
	MJPEGFFmpegCPU float64 `json:"mjpeg_ffmpeg_cpu_pct,omitempty"`
	MJPEGPerSec    float64 `json:"mjpeg_per_s_each,omitempty"`

	// Detections: the daemon with frame readers alone, then with every
	// reader posting detectObjects objects for each frame it gets.
	DetBaseDaemonCPU float64 `json:"detections_base_daemon_cpu_pct,omitempty"`
	// DetHTTP posts with POST /cameras/{name}/detections, DetWS sends on
	// the frames WebSocket.
	DetHTTP postingRun `json:"detections_http"`
	DetWS   postingRun `json:"detections_ws"`

	Profiled bool `json:"profiled,omitempty"`
}

// postingRun is one way of sending detections, measured.
type postingRun struct {
	DaemonCPU float64 `json:"daemon_cpu_pct,omitempty"`
	PerSec    float64 `json:"per_s_each,omitempty"`
	Refused   int64   `json:"refused"`
	// Sent → received by a viewer following /api/events, ms.
	LatP50 float64 `json:"latency_ms_p50,omitempty"`
	LatP95 float64 `json:"latency_ms_p95,omitempty"`
}

// The model readers of the vision scenarios, as issue-sized figures name
// them: 640 px wide at 5 fps for the frames, 10 posts a second of 20
// objects for the detections.
const (
	framesWidth   = 640
	framesFPS     = 5
	detectFPS     = 10
	detectObjects = 20
)

// framesReader reads one /frames WebSocket like a model does.
type framesReader struct {
	frames  atomic.Int64
	dropped atomic.Int64
	first   chan time.Duration
	// pts, if set, gets each frame's PTS as it is read, for posting.
	pts chan uint32

	mu      sync.Mutex
	on      bool
	latency []float64 // ms, while on
	decode  []float64 // ms from received to decoded, while on

	// conn is the socket once dialled, for sending detections on it.
	conn    atomic.Pointer[websocket.Conn]
	refused atomic.Int64 // detections the daemon answered with an error

	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func openFrames(ctx context.Context, url string, withPTS bool) *framesReader {
	ctx, cancel := context.WithCancel(ctx)
	fr := &framesReader{first: make(chan time.Duration, 1), cancel: cancel, done: make(chan struct{})}
	if withPTS {
		fr.pts = make(chan uint32, 1)
	}
	go func() {
		defer close(fr.done)
		fr.err = fr.read(ctx, url)
	}()
	return fr
}

func (fr *framesReader) read(ctx context.Context, url string) error {
	start := time.Now()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)
	fr.conn.Store(conn)
	// The daemon's own message types, and the fields of its error
	// messages besides.
	var meta struct {
		api.FrameMeta
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ == websocket.MessageText {
			if err := json.Unmarshal(data, &meta); err != nil {
				return err
			}
			if meta.Type == "error" && meta.Status != 0 {
				fr.refused.Add(1) // a detections message refused
				meta.Status = 0
				continue
			}
			if meta.Type == "error" {
				return fmt.Errorf("frames: %s", meta.Error)
			}
			continue
		}
		now := time.Now()
		if fr.frames.Add(1) == 1 {
			fr.first <- now.Sub(start)
		}
		fr.dropped.Store(int64(meta.Dropped))
		fr.mu.Lock()
		if fr.on {
			fr.latency = append(fr.latency, float64(now.Sub(meta.Received))/1e6)
			fr.decode = append(fr.decode, float64(meta.Time.Sub(meta.Received))/1e6)
		}
		fr.mu.Unlock()
		if fr.pts != nil {
			select {
			case <-fr.pts: // the model is slow: it takes the newest
			default:
			}
			fr.pts <- meta.PTS
		}
	}
}

func (fr *framesReader) record(on bool) {
	fr.mu.Lock()
	fr.on = on
	fr.mu.Unlock()
}

func (fr *framesReader) close() { fr.cancel(); <-fr.done }

// openAllFrames opens a /frames reader with query on each camera.
func openAllFrames(ctx context.Context, d *daemonProc, query string, withPTS bool) []*framesReader {
	var out []*framesReader
	for _, name := range d.cameras {
		out = append(out, openFrames(ctx, d.base+"/cameras/"+name+"/frames?"+query, withPTS))
	}
	return out
}

// closeAll closes the readers, once.
func closeAll(readers *[]*framesReader) {
	for _, fr := range *readers {
		fr.close()
	}
	*readers = nil
}

func firstsOf(readers []*framesReader) []chan time.Duration {
	var out []chan time.Duration
	for _, fr := range readers {
		out = append(out, fr.first)
	}
	return out
}

// waitFirst waits for every reader's first frame and returns the median
// wait.
func waitFirst(ctx context.Context, firsts []chan time.Duration) (float64, error) {
	var ms []float64
	timeout := time.After(20 * time.Second)
	for _, f := range firsts {
		select {
		case d := <-f:
			ms = append(ms, float64(d)/1e6)
		case <-timeout:
			return 0, errors.New("no first picture within 20 s")
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return percentile(ms, 50), nil
}

// waitDecodersGone waits for the daemon's ffmpeg processes to stop after
// their last reader (jpeg.idle_stop), so that the next phase starts cold.
func (b *bench) waitDecodersGone(ctx context.Context, d *daemonProc) error {
	for deadline := time.Now().Add(20 * time.Second); len(childTicks(d.pid())) > 0; {
		if time.Now().After(deadline) {
			return errors.New("decoders still running 20 s after their last reader left")
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// childPSSMB is the memory of pid's children (the decoders), shared pages
// divided among them.
func childPSSMB(pid int) float64 {
	var mb float64
	for cp := range childTicks(pid) {
		mb += pssMB(cp)
	}
	return mb
}

func (b *bench) runVision(ctx context.Context, sc scenario, first bool) (visionRun, error) {
	var r visionRun
	d, stop, err := b.setUp(ctx, sc, first)
	if err != nil {
		return r, err
	}
	defer stop()
	r.Profiled = d.profiling
	if err := sleepCtx(ctx, b.opts.Warmup); err != nil {
		return r, err
	}
	// Nobody reads frames or posts: no decoder may run.
	s, err := b.measure(ctx, d, b.opts.Window)
	if err != nil {
		return r, err
	}
	r.IdleDaemonCPU, r.IdleDecoders = s.daemonCPU, s.children
	if sc.Frames {
		err = b.measureFrames(ctx, d, sc, &r)
	} else {
		err = b.measureDetections(ctx, d, sc, &r)
	}
	return r, err
}

// measureFrames runs one bgr24 /frames reader per camera, then one MJPEG
// reader per camera at the same size and rate.
func (b *bench) measureFrames(ctx context.Context, d *daemonProc, sc scenario, r *visionRun) error {
	readers := openAllFrames(ctx, d, fmt.Sprintf("format=bgr24&width=%d&fps=%d", framesWidth, framesFPS), false)
	defer closeAll(&readers)
	var err error
	if r.FirstFrameMs, err = waitFirst(ctx, firstsOf(readers)); err != nil {
		return err
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	var n0, d0 int64
	for _, fr := range readers {
		n0 += fr.frames.Load()
		d0 += fr.dropped.Load()
		fr.record(true)
	}
	done := b.startProfile(d, sc.Name, b.opts.Window)
	s, err := b.measure(ctx, d, b.opts.Window)
	done()
	if err != nil {
		return err
	}
	r.FramesFFmpegPSS = childPSSMB(d.pid())
	var n1, d1 int64
	var lat, dec []float64
	for _, fr := range readers {
		fr.record(false)
		n1 += fr.frames.Load()
		d1 += fr.dropped.Load()
		fr.mu.Lock()
		lat = append(lat, fr.latency...)
		dec = append(dec, fr.decode...)
		fr.mu.Unlock()
	}
	r.FramesDecodeP50 = percentile(dec, 50)
	r.FramesDaemonCPU, r.FramesFFmpegCPU, r.FramesRSSMB = s.daemonCPU, s.childCPU, s.rssMax
	r.FramesPerSec = float64(n1-n0) / float64(len(readers)) / b.opts.Window.Seconds()
	r.FramesDropped = d1 - d0
	r.FramesLatP50, r.FramesLatP95 = percentile(lat, 50), percentile(lat, 95)
	closeAll(&readers)
	if err := b.waitDecodersGone(ctx, d); err != nil {
		return err
	}

	var mjpeg []*mjpegReader
	defer func() {
		for _, m := range mjpeg {
			m.close()
		}
	}()
	var firsts []chan time.Duration
	for _, name := range d.cameras {
		m := b.openMJPEG(ctx, fmt.Sprintf("%s/cameras/%s/mjpeg?width=%d&fps=%d", d.base, name, framesWidth, framesFPS))
		mjpeg = append(mjpeg, m)
		firsts = append(firsts, m.first)
	}
	if _, err := waitFirst(ctx, firsts); err != nil {
		return fmt.Errorf("mjpeg: %w", err)
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	n0 = 0
	for _, m := range mjpeg {
		n0 += m.frames.Load()
	}
	if s, err = b.measure(ctx, d, b.opts.Window); err != nil {
		return err
	}
	n1 = 0
	for _, m := range mjpeg {
		n1 += m.frames.Load()
	}
	r.MJPEGDaemonCPU, r.MJPEGFFmpegCPU = s.daemonCPU, s.childCPU
	r.MJPEGPerSec = float64(n1-n0) / float64(len(mjpeg)) / b.opts.Window.Seconds()
	return nil
}

// measureDetections runs a small gray /frames reader per camera, as a
// model would, first alone and then posting detections for every frame it
// reads, while a viewer follows them on /api/events. The difference in the
// daemon's CPU is what the detections cost.
func (b *bench) measureDetections(ctx context.Context, d *daemonProc, sc scenario, r *visionRun) error {
	readers := openAllFrames(ctx, d, fmt.Sprintf("format=gray&width=160&fps=%d", detectFPS), true)
	defer closeAll(&readers)
	if _, err := waitFirst(ctx, firstsOf(readers)); err != nil {
		return err
	}
	ev, err := followDetections(ctx, d.base+"/api/events?detections=1")
	if err != nil {
		return err
	}
	defer ev.close()
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	s, err := b.measure(ctx, d, b.opts.Window)
	if err != nil {
		return err
	}
	r.DetBaseDaemonCPU = s.daemonCPU

	for _, viaWS := range []bool{false, true} {
		p, err := b.postingPhase(ctx, d, sc, readers, ev, viaWS)
		if err != nil {
			return err
		}
		if viaWS {
			r.DetWS = p
		} else {
			r.DetHTTP = p
		}
	}
	return nil
}

// postingPhase has every reader's model post detections for each frame it
// reads, by HTTP or on its frames WebSocket, and measures a window of it.
func (b *bench) postingPhase(ctx context.Context, d *daemonProc, sc scenario, readers []*framesReader, ev *eventsFollower, viaWS bool) (postingRun, error) {
	var r postingRun
	pctx, stopPosting := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var posted, refused atomic.Int64
	for i, fr := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send := b.postHTTP(d.base + "/cameras/" + d.cameras[i] + "/detections")
			if viaWS {
				send = fr.sendWS
			}
			postDetections(pctx, d.cameras[i], fr.pts, ev, send, &posted, &refused)
		}()
	}
	defer func() { stopPosting(); wg.Wait() }()
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return r, err
	}
	refusedNow := func() int64 {
		n := refused.Load()
		for _, fr := range readers {
			n += fr.refused.Load()
		}
		return n
	}
	p0, f0 := posted.Load(), refusedNow()
	ev.record(true)
	name := sc.Name + "-http"
	if viaWS {
		name = sc.Name + "-ws"
	}
	done := b.startProfile(d, name, b.opts.Window)
	s, err := b.measure(ctx, d, b.opts.Window)
	done()
	ev.record(false)
	if err != nil {
		return r, err
	}
	r.DaemonCPU = s.daemonCPU
	r.PerSec = float64(posted.Load()-p0) / float64(len(readers)) / b.opts.Window.Seconds()
	r.Refused = refusedNow() - f0
	lat := ev.latencies()
	r.LatP50, r.LatP95 = percentile(lat, 50), percentile(lat, 95)
	if len(lat) == 0 {
		return r, errors.New("detections: no posted message reached the events viewer")
	}
	return r, nil
}

// sendWS sends a detections message on the reader's frames WebSocket.
func (fr *framesReader) sendWS(ctx context.Context, pts uint32) (bool, error) {
	conn := fr.conn.Load()
	if conn == nil {
		return false, errors.New("frames socket not open")
	}
	// Refusals come back on the socket; the reader counts them.
	return true, conn.Write(ctx, websocket.MessageText, detectionMessage(pts, detectObjects, "detections"))
}

// postHTTP returns a sender that posts a detections message to url.
func (b *bench) postHTTP(url string) func(ctx context.Context, pts uint32) (bool, error) {
	return func(ctx context.Context, pts uint32) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(detectionMessage(pts, detectObjects, "")))
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.http.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent, nil
	}
}

// detectionMessage is a model's message about frame pts: n objects in a
// grid, as a busy scene gives.
func detectionMessage(pts uint32, n int, typ string) []byte {
	type box struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
		W float64 `json:"w"`
		H float64 `json:"h"`
	}
	type object struct {
		Label string  `json:"label"`
		Score float64 `json:"score"`
		Box   box     `json:"box"`
		Track int     `json:"track"`
	}
	m := struct {
		Type    string   `json:"type,omitempty"`
		Version int      `json:"version"`
		PTS     uint32   `json:"pts"`
		Model   string   `json:"model"`
		Objects []object `json:"objects"`
	}{Type: typ, Version: 1, PTS: pts, Model: "bench"}
	labels := []string{"person", "forklift", "box", "helmet"}
	for i := range n {
		m.Objects = append(m.Objects, object{Label: labels[i%len(labels)], Score: 0.5 + float64(i%50)/100,
			Box: box{X: float64(i%5) * 0.2, Y: float64(i/5%4) * 0.25, W: 0.15, H: 0.2}, Track: i})
	}
	out, _ := json.Marshal(m)
	return out
}

// postDetections sends a message for each frame the camera's reader gets.
func postDetections(ctx context.Context, camera string, pts <-chan uint32, ev *eventsFollower,
	send func(context.Context, uint32) (bool, error), posted, refused *atomic.Int64) {
	for {
		var p uint32
		select {
		case <-ctx.Done():
			return
		case p = <-pts:
		}
		ev.posting(camera, p)
		ok, err := send(ctx, p)
		switch {
		case err != nil:
		case ok:
			posted.Add(1)
		default:
			refused.Add(1)
		}
	}
}

// eventsFollower is a viewer on /api/events?detections=1 that times each
// posted message from its post to its arrival.
type eventsFollower struct {
	mu      sync.Mutex
	on      bool
	sent    map[string]time.Time // camera + pts → posted
	latency []float64
	cancel  context.CancelFunc
	done    chan struct{}
}

func followDetections(ctx context.Context, url string) (*eventsFollower, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("events: %s", resp.Status)
	}
	ev := &eventsFollower{sent: map[string]time.Time{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ev.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				event = name
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || event != "detections" {
				continue
			}
			now := time.Now()
			var det struct {
				Camera string `json:"camera"`
				PTS    uint32 `json:"pts"`
			}
			if json.Unmarshal([]byte(data), &det) == nil {
				ev.arrived(det.Camera, det.PTS, now)
			}
		}
	}()
	return ev, nil
}

func detKey(camera string, pts uint32) string { return fmt.Sprintf("%s %d", camera, pts) }

func (ev *eventsFollower) posting(camera string, pts uint32) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.sent) > 10000 { // messages the viewer never got
		clear(ev.sent)
	}
	ev.sent[detKey(camera, pts)] = time.Now()
}

func (ev *eventsFollower) arrived(camera string, pts uint32, at time.Time) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	k := detKey(camera, pts)
	if t, ok := ev.sent[k]; ok {
		delete(ev.sent, k)
		if ev.on {
			ev.latency = append(ev.latency, float64(at.Sub(t))/1e6)
		}
	}
}

func (ev *eventsFollower) record(on bool) {
	ev.mu.Lock()
	ev.on = on
	ev.mu.Unlock()
}

func (ev *eventsFollower) latencies() []float64 {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]float64(nil), ev.latency...)
}

func (ev *eventsFollower) close() { ev.cancel(); <-ev.done }

func (r *scenarioResult) summarizeVision(col func(name string, f func(i int) (float64, bool), n int)) {
	v := func(name string, f func(x visionRun) float64) {
		col(name, func(i int) (float64, bool) {
			x := f(r.VisionRuns[i])
			return x, x != 0 || name == "idle_ffmpeg_processes" || name == "frames_dropped" || strings.HasSuffix(name, "_refused")
		}, len(r.VisionRuns))
	}
	frames := func(name string, f func(x visionRun) float64) {
		v(name, func(x visionRun) float64 {
			if x.FramesPerSec == 0 {
				return 0
			}
			return f(x)
		})
	}
	v("idle_daemon_cpu_pct", func(x visionRun) float64 { return x.IdleDaemonCPU })
	v("idle_ffmpeg_processes", func(x visionRun) float64 { return float64(x.IdleDecoders) })
	v("frames_daemon_cpu_pct", func(x visionRun) float64 { return x.FramesDaemonCPU })
	v("frames_ffmpeg_cpu_pct", func(x visionRun) float64 { return x.FramesFFmpegCPU })
	v("frames_daemon_rss_mb", func(x visionRun) float64 { return x.FramesRSSMB })
	v("frames_ffmpeg_pss_mb", func(x visionRun) float64 { return x.FramesFFmpegPSS })
	v("frames_per_s", func(x visionRun) float64 { return x.FramesPerSec })
	frames("frames_dropped", func(x visionRun) float64 { return float64(x.FramesDropped) })
	v("first_frame_ms", func(x visionRun) float64 { return x.FirstFrameMs })
	v("frames_latency_ms_p50", func(x visionRun) float64 { return x.FramesLatP50 })
	v("frames_latency_ms_p95", func(x visionRun) float64 { return x.FramesLatP95 })
	v("frames_decode_ms_p50", func(x visionRun) float64 { return x.FramesDecodeP50 })
	v("mjpeg_daemon_cpu_pct", func(x visionRun) float64 { return x.MJPEGDaemonCPU })
	v("mjpeg_ffmpeg_cpu_pct", func(x visionRun) float64 { return x.MJPEGFFmpegCPU })
	v("mjpeg_per_s", func(x visionRun) float64 { return x.MJPEGPerSec })
	v("detections_base_daemon_cpu_pct", func(x visionRun) float64 { return x.DetBaseDaemonCPU })
	for _, via := range []string{"http", "ws"} {
		p := func(x visionRun) postingRun {
			if via == "ws" {
				return x.DetWS
			}
			return x.DetHTTP
		}
		v("detections_"+via+"_daemon_cpu_pct", func(x visionRun) float64 { return p(x).DaemonCPU })
		v("detections_"+via+"_cost_cpu_pct", func(x visionRun) float64 {
			if p(x).DaemonCPU == 0 {
				return 0
			}
			return p(x).DaemonCPU - x.DetBaseDaemonCPU
		})
		v("detections_"+via+"_per_s", func(x visionRun) float64 { return p(x).PerSec })
		v("detections_"+via+"_refused", func(x visionRun) float64 { return float64(p(x).Refused) })
		v("detections_"+via+"_latency_ms_p50", func(x visionRun) float64 { return p(x).LatP50 })
		v("detections_"+via+"_latency_ms_p95", func(x visionRun) float64 { return p(x).LatP95 })
	}
}

// printVision adds a vision scenario's rows to the vision table (see
// visionHeader).
func (r *scenarioResult) printVision(row func(cells ...string)) {
	if len(r.VisionRuns) == 0 {
		return
	}
	row(r.Name+", nothing read or posted", r.cell("idle_daemon_cpu_pct", "%.2f"), "", "ffmpeg processes: "+r.cell("idle_ffmpeg_processes", "%.0f"), "", "")
	if _, ok := r.Summary["frames_per_s"]; ok {
		row(r.Name+", /frames bgr24 640 px 5 fps",
			r.cell("frames_daemon_cpu_pct", "%.2f")+" + ffmpeg "+r.cell("frames_ffmpeg_cpu_pct", "%.1f"),
			r.cell("frames_daemon_rss_mb", "%.1f")+" + ffmpeg "+r.cell("frames_ffmpeg_pss_mb", "%.1f")+" (PSS)",
			"first frame "+r.cell("first_frame_ms", "%.0f"),
			"received → model "+r.cell("frames_latency_ms_p50", "%.1f")+" / "+r.cell("frames_latency_ms_p95", "%.1f")+
				" (decoded "+r.cell("frames_decode_ms_p50", "%.1f")+")",
			r.cell("frames_per_s", "%.1f")+" frames/s each, "+r.cell("frames_dropped", "%.0f")+" dropped")
		row(r.Name+", MJPEG 640 px 5 fps",
			r.cell("mjpeg_daemon_cpu_pct", "%.2f")+" + ffmpeg "+r.cell("mjpeg_ffmpeg_cpu_pct", "%.1f"), "", "", "",
			r.cell("mjpeg_per_s", "%.1f")+" JPEG/s each")
	}
	if _, ok := r.Summary["detections_base_daemon_cpu_pct"]; ok {
		row(r.Name+", models reading, not posting", r.cell("detections_base_daemon_cpu_pct", "%.2f"), "", "", "", "")
		for _, via := range []struct{ key, what string }{{"http", "posting by HTTP"}, {"ws", "sending on the frames WebSocket"}} {
			k := "detections_" + via.key + "_"
			row(r.Name+", models "+via.what, r.cell(k+"daemon_cpu_pct", "%.2f")+" (detections: "+r.cell(k+"cost_cpu_pct", "%+.2f")+")", "", "",
				"sent → viewer "+r.cell(k+"latency_ms_p50", "%.1f")+" / "+r.cell(k+"latency_ms_p95", "%.1f"),
				r.cell(k+"per_s", "%.1f")+" messages/s each, "+r.cell(k+"refused", "%.0f")+" refused")
		}
	}
}

// visionHeader heads the table of the vision scenarios.
var visionHeader = []string{"vision scenario", "daemon CPU % of a core", "RSS MB", "first picture ms", "latency ms p50 / p95", "rate"}
