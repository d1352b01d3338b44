// Package frames decodes a camera's H.264 stream into pictures: JPEG for
// viewers that cannot play video (MJPEG, WebSocket and snapshot clients) and
// raw pixels for vision models.
//
// Decoding is expensive on the small boards edgecam runs on, so a Hub runs an
// ffmpeg process only while somebody wants pictures, and only one per
// distinct output (Variant) however many viewers share it. A viewer always
// gets the newest picture and never a queue of old ones, so a slow client
// costs nothing but its own frame rate. Every picture says which access unit
// it was decoded from (its RTP timestamp on the stream's timeline, which
// WebRTC viewers receive too), so that what a model finds in it can be drawn
// on the very frame a viewer sees. ffmpeg is supervised: when it dies or
// stops producing pictures it is restarted with backoff, and viewers simply
// keep waiting for the next picture.
package frames

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/stream"
)

// Defaults of Settings' zero values. They live here only: the
// configuration file leaves these settings zero when they are not written.
const (
	DefaultFFmpeg   = "ffmpeg"
	DefaultFPS      = 5
	DefaultQuality  = 75
	DefaultIdleStop = 5 * time.Second
	defaultInputFPS = 25
)

// ErrNoFFmpeg is returned (wrapped) by Subscribe and Snapshot when the ffmpeg
// executable cannot be found. It wraps exec.ErrNotFound.
var ErrNoFFmpeg = fmt.Errorf("ffmpeg is not installed: install it (apt-get install ffmpeg) or set jpeg.ffmpeg to its path: %w", exec.ErrNotFound)

// ErrClosed is returned when the viewer was closed, or its decoder ended
// because the Hub or the camera's stream was shut down.
var ErrClosed = errors.New("jpeg: closed")

// Settings configure the decoder of one camera. Zero values mean defaults.
type Settings struct {
	// FFmpeg is the executable name or path.
	FFmpeg string
	// FPS caps the output frame rate. Ignored with KeyframesOnly.
	FPS float64
	// Width scales pictures to this width, keeping the aspect ratio with an
	// even height, and never upscales; 0 keeps the camera's own width.
	Width int
	// Quality is 1..100 (100 best), mapped to mjpeg -q:v 31..2.
	Quality int
	// KeyframesOnly feeds ffmpeg only the IDR frames: one picture per GOP
	// for a small fraction of the CPU of decoding every frame.
	KeyframesOnly bool
	// HWAccel HWNone decodes in software; HWV4L2M2M uses the
	// h264_v4l2m2m decoder, falling back to software (logged once) if
	// ffmpeg fails to start or to produce a picture with it.
	HWAccel HWAccel
	// IdleStop is how long a decoder keeps running after its last viewer
	// left, so that repeated snapshots and page reloads find it warm.
	IdleStop time.Duration
	// MaxDecoders is the most decoders (ffmpeg processes, one per variant)
	// the camera runs at once; DefaultMaxDecoders when 0.
	MaxDecoders int
	// Budget, if set, bounds the decoders of every camera sharing it.
	Budget *Budget
	// InputFPS is the frame rate assumed of a camera whose SPS does not
	// say (most do, and then theirs is used), given to ffmpeg as the raw
	// H.264 input's -framerate. The picture selection counts time by it, so
	// a wrong value scales the output rate by the same factor.
	InputFPS float64
}

// HWAccel names a hardware H.264 decoder ffmpeg may use.
type HWAccel string

// Hardware decoders.
const (
	// HWNone decodes in software.
	HWNone HWAccel = ""
	// HWV4L2M2M is the V4L2 memory-to-memory decoder of the Raspberry Pi
	// and other SoCs (ffmpeg's h264_v4l2m2m).
	HWV4L2M2M HWAccel = "v4l2m2m"
)

// WithDefaults returns s with every zero field set to its default.
func (s Settings) WithDefaults() Settings {
	if s.FFmpeg == "" {
		s.FFmpeg = DefaultFFmpeg
	}
	if s.FPS <= 0 {
		s.FPS = DefaultFPS
	}
	if s.Width < 0 {
		s.Width = 0
	}
	s.Quality = clampQuality(s.Quality)
	if s.IdleStop <= 0 {
		s.IdleStop = DefaultIdleStop
	}
	if s.InputFPS <= 0 {
		s.InputFPS = defaultInputFPS
	}
	if s.MaxDecoders <= 0 {
		s.MaxDecoders = DefaultMaxDecoders
	}
	return s
}

func clampQuality(q int) int {
	switch {
	case q <= 0:
		return DefaultQuality
	case q > 100:
		return 100
	}
	return q
}

// Variant selects the output of a decoder; viewers asking for the same
// Variant share one ffmpeg. Zero fields mean the Settings' values.
type Variant struct {
	// Format is the pictures' encoding; zero means JPEG.
	Format Format
	// Width scales pictures down to this width, aspect kept.
	Width int
	// Quality is the JPEG quality; raw formats have none.
	Quality int
	// KeyframesOnly decodes only the camera's IDRs (always, when the
	// Settings say so).
	KeyframesOnly bool
}

// HubStats are a Hub's counters.
type HubStats struct {
	Decoders int    // decoders running (each owns at most one ffmpeg process)
	Restarts uint64 // ffmpeg restarts after an exit or a stall, in total
	Frames   uint64 // pictures produced by all decoders, in total
	Viewers  int    // JPEG viewers connected now (snapshots in progress included)
}

// Hub runs the JPEG decoders of one camera. Its methods are safe for
// concurrent use. Run must be running for the Hub to be cleaned up.
type Hub struct {
	st  *stream.Stream
	s   Settings
	log *slog.Logger

	// base is the parent context of every decoder; Run cancels it. It is
	// created here rather than in Run so that Subscribe works no matter
	// which goroutine gets scheduled first.
	base     context.Context
	stopAll  context.CancelFunc
	wg       sync.WaitGroup
	running  atomic.Int64
	restarts atomic.Uint64
	frames   atomic.Uint64
	// spawned and reaped count the ffmpeg processes started and waited
	// for: equal once none is left.
	spawned, reaped atomic.Int64
	hwFailed        atomic.Bool
	// oldFFmpeg is set once ffmpeg rejected an option newer than 5.1;
	// decoders then use options every version has.
	oldFFmpeg atomic.Bool
	// exited, if set, is called with every ffmpeg's final state; the CPU
	// benchmark reads the child's rusage from it.
	exited func(*os.ProcessState)

	mu       sync.Mutex
	closed   bool
	decoders map[Variant]*decoder
}

// NewHub returns the Hub of the camera whose stream is st. log should carry
// the camera's name (camera=).
func NewHub(st *stream.Stream, s Settings, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Hub{
		st:       st,
		s:        s.WithDefaults(),
		log:      log,
		base:     base,
		stopAll:  cancel,
		decoders: make(map[Variant]*decoder),
	}
}

// Run owns every decoder goroutine and ffmpeg process of the Hub. It returns
// when ctx ends, after stopping every ffmpeg and waiting for it. The Hub
// cannot be used afterwards: Subscribe returns ErrClosed.
func (h *Hub) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-h.base.Done():
	}
	h.mu.Lock()
	h.closed = true
	for _, d := range h.decoders {
		h.drop(d)
	}
	h.mu.Unlock()
	h.stopAll()
	h.wg.Wait()
	return nil
}

// Subscribe adds a viewer of variant v, starting its decoder if it is not
// running. It fails with an error wrapping ErrNoFFmpeg if ffmpeg cannot be
// found, so the caller can answer at once instead of waiting for a picture
// that never comes.
func (h *Hub) Subscribe(v Variant) (*Viewer, error) {
	if _, err := exec.LookPath(h.s.FFmpeg); err != nil {
		return nil, fmt.Errorf("camera %q: %w (%v)", h.st.Name(), ErrNoFFmpeg, err)
	}
	v = h.normalize(v)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	d := h.decoders[v]
	if d == nil {
		if err := h.admit(); err != nil {
			return nil, fmt.Errorf("camera %q: %w: it runs %d and the box %d of at most %d and %d (jpeg.max_decoders_per_camera, jpeg.max_decoders); ask for a size or quality another viewer uses, or try again when one leaves",
				h.st.Name(), err, len(h.decoders), h.s.Budget.Running(), h.s.MaxDecoders, h.s.Budget.Max())
		}
		d = newDecoder(h, v)
		h.decoders[v] = d
		h.wg.Add(1)
		h.running.Add(1)
		go d.run()
	}
	d.viewers++
	d.stopIdleTimer()
	return &Viewer{d: d, closed: make(chan struct{})}, nil
}

// normalize fills a Variant's zero fields from the Settings, so that equal
// outputs share one decoder however the caller spelled them.
func (h *Hub) normalize(v Variant) Variant {
	if v.Width <= 0 {
		v.Width = h.s.Width
	}
	if v.Format == "" {
		v.Format = FormatJPEG
	}
	if v.Format == FormatJPEG {
		if v.Width > 0 { // 0: the camera's own width
			v.Width = roundJPEGWidth(v.Width)
			if h.s.Width > 0 {
				v.Width = min(v.Width, h.s.Width)
			}
		}
		if v.Quality <= 0 {
			v.Quality = h.s.Quality
		}
		v.Quality = roundQuality(clampQuality(v.Quality))
	}
	// Odd widths would make the scaler round anyway; an even width keeps
	// chroma subsampling exact.
	v.Width &^= 1
	if v.Format != FormatJPEG {
		v.Quality = 0
	}
	v.KeyframesOnly = v.KeyframesOnly || h.s.KeyframesOnly
	return v
}

// release is called by Viewer.Close.
func (h *Hub) release(d *decoder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d.viewers--
	if d.viewers > 0 || h.decoders[d.v] != d {
		return
	}
	// Linger so that a reload or the next snapshot finds a warm decoder.
	d.idle = time.AfterFunc(h.s.IdleStop, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if d.viewers == 0 && h.decoders[d.v] == d {
			h.drop(d)
		}
	})
}

// forget removes d from the map if it is still there; a decoder that ended
// on its own (its stream was closed) must not be handed to new viewers.
func (h *Hub) forget(d *decoder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.decoders[d.v] == d {
		h.drop(d)
	}
}

// Snapshot returns the latest picture of variant v. If that variant's
// decoder is not running it is started, as a viewer released on return so
// that the decoder lingers IdleStop for repeated snapshots, and Snapshot
// waits for its first picture (bounded by ctx).
func (h *Hub) Snapshot(ctx context.Context, v Variant) (Frame, error) {
	w, err := h.Subscribe(v)
	if err != nil {
		return Frame{}, err
	}
	defer w.Close()
	return w.Next(ctx, 0)
}

// Warm reports whether a decoder of variant v runs, so that a picture of
// it costs no new ffmpeg.
func (h *Hub) Warm(v Variant) bool {
	v = h.normalize(v)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.decoders[v] != nil
}

// Settings returns the Hub's settings, defaults applied.
func (h *Hub) Settings() Settings { return h.s }

// Stats returns the Hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	viewers := 0
	for _, d := range h.decoders {
		viewers += d.viewers
	}
	h.mu.Unlock()
	return HubStats{
		Decoders: int(h.running.Load()),
		Restarts: h.restarts.Load(),
		Frames:   h.frames.Load(),
		Viewers:  viewers,
	}
}

// Viewer is one consumer of a decoder's pictures.
type Viewer struct {
	d         *decoder
	closeOnce sync.Once
	closed    chan struct{}
}

// Next returns the newest picture with Seq > after, waiting until one exists
// or ctx ends. Old pictures are never queued: a viewer slower than the
// decoder skips straight to the newest one. Pass 0 for the first call and the
// returned Seq afterwards.
func (w *Viewer) Next(ctx context.Context, after uint64) (Frame, error) {
	d := w.d
	for {
		select {
		case <-w.closed:
			return Frame{}, ErrClosed
		default:
		}
		d.mu.Lock()
		f, ended, ch := d.latest, d.ended, d.notify
		d.mu.Unlock()
		if f.Seq > after {
			return f, nil
		}
		if ended {
			return Frame{}, ErrClosed
		}
		select {
		case <-ch:
		case <-w.closed:
			return Frame{}, ErrClosed
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

// DecoderFPS is the most pictures a second the viewer's decoder makes: its
// cap or the camera's frame rate, the lower (keyframes-only decoders have
// no cap and make far fewer).
func (w *Viewer) DecoderFPS() float64 {
	s := w.d.h.s
	in := math.Float64frombits(w.d.rate.Load())
	if in <= 0 {
		in = s.InputFPS
	}
	if w.d.v.KeyframesOnly {
		return in
	}
	return min(s.FPS, in)
}

// Newest returns the Seq of the decoder's newest picture, 0 before the first.
func (w *Viewer) Newest() uint64 {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.latest.Seq
}

// Close releases the viewer; a pending Next returns ErrClosed. When the last
// viewer of a variant leaves, its decoder stops after IdleStop. Close is
// idempotent.
func (w *Viewer) Close() {
	w.closeOnce.Do(func() {
		close(w.closed)
		w.d.h.release(w.d)
	})
}
