package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// viewerSpec tells the viewer process what to watch. It is passed as JSON
// in the -viewers flag.
type viewerSpec struct {
	Endpoints []string // WHEP URLs, one per camera
	PerCamera int
	// Churn replaces one viewer per camera every second: the oldest leaves
	// (WHEP DELETE), a new one joins.
	Churn bool
	// Stagger spaces the first viewers' joins; 0 joins them all at once:
	// each prepares its offer, and all post them at the same instant.
	Stagger time.Duration
	// KernelBuffer keeps the players' UDP receive buffers at the kernel's
	// default (whepclient.Options.KernelReceiveBuffer).
	KernelBuffer bool
}

// viewerResult is what the viewer process reports for the measurement
// window, on stdout as JSON.
type viewerResult struct {
	Sessions  int       // viewers that joined, churned ones included
	TTFFms    []float64 // WHEP POST to first complete IDR, per viewer
	FirstMs   []float64 // WHEP POST to the first unit (the IDR the daemon sends first), per viewer
	AnswerMs  []float64 // WHEP POST to its answer, per viewer
	ConnMs    []float64 // WHEP POST to connected (ICE and DTLS done), per viewer
	LatencyMs []float64 // camera send to viewer receive, live frames in the window
	Frames    int64     // frames received in the window
	Lost      int64     // frames missing between received ones (gaps in the camera's frame numbers)
	// Unrepaired counts RTP packets the players gave up on over the whole
	// run: lost and not resent within the jitter buffer's wait. A frame
	// with such a hole still arrives, and is not counted in Lost.
	Unrepaired int64
	// Missed counts RTP packets missing at the players when a later one
	// arrived, over the whole run: each was NACKed, and those resent in
	// time are not in Unrepaired.
	Missed int64
	// ReplayMissed is the part of Missed lost up to each player's last
	// unit of the cached GOP: while it was replayed.
	ReplayMissed int64
	Failed       int // viewers that could not connect
}

// viewer is one WHEP session with its measurements.
type viewer struct {
	c    *whepclient.Client
	post atomic.Int64 // unix nanos of the WHEP POST
	done chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	units     int
	firstUnit time.Duration
	ttff      time.Duration
	answered  time.Duration
	gotIDR    bool
	last      uint64
	started   bool
	// replayMissed is the player's Missed count when the last unit of the
	// cached GOP arrived: the packets lost while it was replayed.
	replayMissed int
	live         bool // a live unit has arrived
}

// postClock records when a viewer's WHEP offer is posted, after holding
// it at the join barrier if there is one.
type postClock struct {
	base    http.RoundTripper
	at      *atomic.Int64
	barrier *joinBarrier
}

func (p postClock) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost {
		p.barrier.wait()
		p.at.Store(time.Now().UnixNano())
	}
	return p.base.RoundTrip(r)
}

// joinBarrierWait bounds how long the first viewer's offer waits for the
// others'.
const joinBarrierWait = 30 * time.Second

// joinBarrier holds the viewers' WHEP POSTs until every viewer has its
// offer ready, so that they all join at the same instant: making an offer
// (a PeerConnection, ICE gathering) takes each one a different time, which
// would otherwise spread the joins over tens of milliseconds, or seconds
// for hundreds.
type joinBarrier struct {
	mu      sync.Mutex
	pending int // viewers that have neither posted nor failed
	open    chan struct{}
}

func newJoinBarrier(n int) *joinBarrier {
	b := &joinBarrier{pending: n, open: make(chan struct{})}
	if n <= 0 {
		close(b.open)
	}
	return b
}

// leave counts a viewer as arrived (or failed before posting) and opens
// the barrier once none is pending.
func (b *joinBarrier) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending--; b.pending == 0 {
		close(b.open)
	}
}

// wait arrives at the barrier and returns when it opens, or after
// joinBarrierWait. A nil barrier does not wait.
func (b *joinBarrier) wait() {
	if b == nil {
		return
	}
	b.leave()
	select {
	case <-b.open:
	case <-time.After(joinBarrierWait):
	}
}

type window struct {
	on      atomic.Bool
	mu      sync.Mutex
	latency []float64
	frames  int64
	lost    int64
	ttff    []float64
	first   []float64
}

// dialViewer connects a viewer; with a barrier its POST waits there for
// the others', and the dial's time limit starts once it opens.
func dialViewer(ctx context.Context, endpoint string, tr http.RoundTripper, w *window, barrier *joinBarrier, kernelBuffer bool) (*viewer, error) {
	v := &viewer{done: make(chan struct{})}
	limit := 10 * time.Second
	if barrier != nil {
		limit += joinBarrierWait
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c, err := whepclient.Dial(ctx, endpoint, whepclient.Options{
		Interfaces:          []string{"lo"},
		KernelReceiveBuffer: kernelBuffer,
		HTTPClient:          &http.Client{Transport: postClock{base: tr, at: &v.post, barrier: barrier}, Timeout: limit},
	})
	if err != nil {
		if barrier != nil && v.post.Load() == 0 {
			barrier.leave() // it never reached the barrier
		}
		return nil, err
	}
	v.c = c
	v.answered = time.Since(time.Unix(0, v.post.Load()))
	v.wg.Add(1)
	go v.consume(w)
	return v, nil
}

// consume reads the viewer's access units until it is closed.
func (v *viewer) consume(w *window) {
	defer v.wg.Done()
	post := time.Unix(0, v.post.Load())
	for {
		var au whepclient.AccessUnit
		select {
		case au = <-v.c.Units():
		case <-v.done:
			return
		}
		idr := false
		var sent time.Time
		var frame uint64
		stamped := false
		for _, n := range au.NALUs {
			if len(n) == 0 {
				continue
			}
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeIDR:
				idr = true
			case h264.NALUTypeSEI:
				if s, f, ok := testcamera.ParseSendTime(n); ok {
					sent, frame, stamped = s, f, true
				}
			}
		}
		v.mu.Lock()
		v.units++
		if v.units == 1 {
			// The daemon starts every viewer at an IDR: the first unit to
			// arrive is that IDR, unless the player gave up on one of its
			// packets and dropped it.
			v.firstUnit = au.Received.Sub(post)
		}
		if v.units == 1 && w.on.Load() {
			w.mu.Lock()
			w.first = append(w.first, float64(v.firstUnit)/1e6)
			w.mu.Unlock()
		}
		if idr && !v.gotIDR {
			v.gotIDR = true
			v.ttff = au.Received.Sub(post)
			if w.on.Load() {
				w.mu.Lock()
				w.ttff = append(w.ttff, float64(v.ttff)/1e6)
				w.mu.Unlock()
			}
		}
		if stamped && !v.live {
			// The count as the last cached unit is handed out, so that
			// what the first live unit (maybe an unpaced IDR) loses is
			// not counted as the replay's.
			if v.live = sent.After(post); !v.live {
				v.replayMissed = v.c.Missed()
			}
		}
		if stamped && v.gotIDR {
			var gap uint64
			if v.started && frame > v.last+1 {
				gap = frame - v.last - 1
			}
			if !v.started || frame > v.last {
				v.last, v.started = frame, true
			}
			if w.on.Load() {
				w.mu.Lock()
				w.frames++
				w.lost += int64(gap)
				// Frames from the GOP cache were sent before the POST;
				// only live frames measure the relay's latency.
				if sent.After(post) {
					w.latency = append(w.latency, float64(au.Received.Sub(sent))/1e6)
				}
				w.mu.Unlock()
			}
		}
		v.mu.Unlock()
	}
}

func (v *viewer) close() {
	_ = v.c.Close()
	close(v.done)
	v.wg.Wait()
}

// runViewers is the viewer process: it connects the viewers, prints
// "ready" once each has its first picture, measures between the "start" and
// "stop" lines on stdin, then prints a viewerResult and exits.
func runViewers(specJSON string) error {
	var spec viewerSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	w := &window{}
	var res viewerResult
	var barrier *joinBarrier
	if spec.Stagger == 0 {
		barrier = newJoinBarrier(len(spec.Endpoints) * spec.PerCamera)
	}

	var mu sync.Mutex
	groups := make([][]*viewer, len(spec.Endpoints))
	var all []*viewer
	var wg sync.WaitGroup
	for i, ep := range spec.Endpoints {
		for k := 0; k < spec.PerCamera; k++ {
			time.Sleep(spec.Stagger)
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := dialViewer(ctx, ep, tr, w, barrier, spec.KernelBuffer)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					fmt.Fprintln(os.Stderr, "viewer:", err)
					res.Failed++
					return
				}
				groups[i] = append(groups[i], v)
				all = append(all, v)
			}()
		}
	}
	wg.Wait()
	// Ready when every viewer has its first picture, or after 20 s.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ready := true
		for _, v := range all {
			v.mu.Lock()
			ready = ready && v.gotIDR
			v.mu.Unlock()
		}
		if ready {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, v := range all {
		v.mu.Lock()
		if v.gotIDR {
			res.TTFFms = append(res.TTFFms, float64(v.ttff)/1e6)
		}
		if v.units > 0 {
			res.FirstMs = append(res.FirstMs, float64(v.firstUnit)/1e6)
		}
		res.AnswerMs = append(res.AnswerMs, float64(v.answered)/1e6)
		if at := v.c.ConnectedAt(); !at.IsZero() {
			res.ConnMs = append(res.ConnMs, float64(at.Sub(time.Unix(0, v.post.Load())))/1e6)
		}
		v.mu.Unlock()
	}
	res.Sessions = len(all)
	fmt.Println("ready")

	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "start" {
		return fmt.Errorf("viewers: expected start")
	}
	w.on.Store(true)
	stopChurn := make(chan struct{})
	churnDone := make(chan struct{})
	go func() {
		defer close(churnDone)
		if !spec.Churn {
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopChurn:
				return
			case <-t.C:
			}
			for i, ep := range spec.Endpoints {
				mu.Lock()
				var old *viewer
				if len(groups[i]) > 0 {
					old = groups[i][0]
					groups[i] = groups[i][1:]
				}
				mu.Unlock()
				if old != nil {
					old.close()
				}
				v, err := dialViewer(ctx, ep, tr, w, nil, spec.KernelBuffer)
				mu.Lock()
				if err != nil {
					res.Failed++
				} else {
					groups[i] = append(groups[i], v)
					all = append(all, v)
					res.Sessions++
				}
				mu.Unlock()
			}
		}
	}()
	in.Scan() // "stop", or EOF if the bench went away
	w.on.Store(false)
	close(stopChurn)
	<-churnDone

	mu.Lock()
	for _, v := range all {
		res.Unrepaired += int64(v.c.Lost())
		res.Missed += int64(v.c.Missed())
		v.mu.Lock()
		res.ReplayMissed += int64(v.replayMissed)
		v.mu.Unlock()
	}
	mu.Unlock()
	w.mu.Lock()
	res.LatencyMs, res.Frames, res.Lost = w.latency, w.frames, w.lost
	res.TTFFms = append(res.TTFFms, w.ttff...)
	res.FirstMs = append(res.FirstMs, w.first...)
	w.mu.Unlock()
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	for _, g := range groups {
		for _, v := range g {
			v.close()
		}
	}
	return nil
}
