// Package cameras runs the configured cameras. Each Camera owns its RTSP
// capture, the stream that fans its video out, and its JPEG decoders; it is
// pulled all the time, or only while someone watches. The daemon builds a Set
// from the configuration and swaps it whole on reload, so request handlers
// read one consistent Set without locks.
package cameras

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/redact"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/detections"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/frames"
)

// DefaultOnDemandLinger is how long an on-demand camera stays pulled after
// its last viewer left, so a page reload or a quick view switch does not
// reconnect.
const DefaultOnDemandLinger = 10 * time.Second

// Options are what every camera of a daemon shares.
type Options struct {
	// Log receives the camera's logs; each line gets camera=<name>.
	Log *slog.Logger
	// OnDemandLinger overrides DefaultOnDemandLinger.
	OnDemandLinger time.Duration
	// Changed, if set, is called whenever a camera's state, reconnect count
	// or viewers change. It must not block.
	Changed func()
	// Decoders, if set, bounds the decoders of all cameras sharing it.
	Decoders *frames.Budget
}

// Kind is a viewer's transport, as the API and metrics count them.
type Kind int

// Viewer kinds counted by Watch; WebRTC viewers are the stream's own.
const (
	MJPEG Kind = iota
	WebSocket
	// Frames are models reading pictures from /frames.
	Frames
	numKinds
)

// Viewers are a camera's viewers by transport.
type Viewers struct {
	WebRTC, MJPEG, WebSocket, Frames int
}

// Total is the number of viewers of every transport.
func (v Viewers) Total() int { return v.WebRTC + v.MJPEG + v.WebSocket + v.Frames }

// Camera is one configured camera. A disabled camera has no capture,
// stream or decoders; it is listed and nothing else.
type Camera struct {
	cfg  config.Camera
	jcfg config.JPEG // effective: the global section with this camera's overrides
	// url is cfg.URL without its password, made once: the API shows it often.
	url  string
	opts Options
	log  *slog.Logger

	cam  *capture.Camera
	st   *stream.Stream
	jpeg *frames.Hub
	det  *detections.Store

	viewers [numKinds]atomic.Int64
}

// New prepares a camera; nothing runs until Run.
func New(c config.Camera, j config.JPEG, opts Options) *Camera {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.OnDemandLinger <= 0 {
		opts.OnDemandLinger = DefaultOnDemandLinger
	}
	cam := &Camera{cfg: c, jcfg: j, url: redact.URL(c.URL), opts: opts, log: opts.Log.With("camera", c.Name)}
	if c.Disabled {
		return cam
	}
	codec := captureCodec(c.Codec)
	cam.st = stream.New(c.Name, stream.Options{MaxReaders: c.MaxViewers, Codec: codec})
	cam.det = detections.NewStore(c.Name)
	cam.cam = capture.New(capture.Config{
		Name:           c.Name,
		URL:            c.URL,
		Transport:      capture.Transport(c.Transport),
		ConnectTimeout: c.ConnectTimeout.D(),
		ReadTimeout:    c.ReadTimeout.D(),
		StaleAfter:     c.StaleAfter.D(),
		Codec:          codec,
	}, cam.st, cam.log)
	cam.jpeg = frames.NewHub(cam.st, frames.Settings{
		FFmpeg:        j.FFmpeg,
		FPS:           j.FPS,
		Width:         j.MaxWidth,
		Quality:       j.Quality,
		KeyframesOnly: j.KeyframesOnly,
		HWAccel:       frames.HWAccel(j.HWAccel),
		IdleStop:      j.IdleStop.D(),
		MaxDecoders:   j.MaxDecodersPerCamera,
		Budget:        opts.Decoders,
	}, cam.log)
	return cam
}

// captureCodec is the capture's name for a configured codec.
func captureCodec(c config.Codec) capture.Codec {
	switch c {
	case config.CodecH264:
		return capture.CodecH264
	case config.CodecH265:
		return capture.CodecH265
	}
	return capture.CodecAuto
}

// Name is the camera's name, as in its URLs.
func (c *Camera) Name() string { return c.cfg.Name }

// Disabled reports whether the camera is listed but not run.
func (c *Camera) Disabled() bool { return c.cam == nil }

// Same reports whether the camera was made from these settings, so a reload
// can keep it running.
func (c *Camera) Same(cfg config.Camera, j config.JPEG) bool {
	return c.cfg.Equal(cfg) && c.jcfg == j
}

// Stream is the camera's fan-out; nil when disabled.
func (c *Camera) Stream() *stream.Stream { return c.st }

// JPEG is the camera's decoders of pictures, JPEG or raw; nil when
// disabled.
func (c *Camera) JPEG() *frames.Hub { return c.jpeg }

// Detections is what models found in the camera's frames; nil when
// disabled.
func (c *Camera) Detections() *detections.Store { return c.det }

// Status is the capture's health; a disabled camera's is the zero Status.
func (c *Camera) Status() capture.Status {
	if c.cam == nil {
		return capture.Status{}
	}
	return c.cam.Status()
}

// Viewers counts the camera's viewers by transport.
func (c *Camera) Viewers() Viewers {
	if c.cam == nil {
		return Viewers{}
	}
	return Viewers{
		WebRTC:    c.st.Viewers(),
		MJPEG:     int(c.viewers[MJPEG].Load()),
		WebSocket: int(c.viewers[WebSocket].Load()),
		Frames:    int(c.viewers[Frames].Load()),
	}
}

// Watch counts a viewer of kind until the returned function is called, and
// logs its coming and going.
func (c *Camera) Watch(kind Kind) (leave func()) {
	name := [...]string{MJPEG: "mjpeg", WebSocket: "websocket", Frames: "frames"}[kind]
	c.viewers[kind].Add(1)
	c.changed()
	c.log.Info("viewer joined", "transport", name)
	var once sync.Once
	return func() {
		once.Do(func() {
			c.viewers[kind].Add(-1)
			c.changed()
			c.log.Info("viewer left", "transport", name)
		})
	}
}

// Snapshot is everything the API and the metrics show of a camera, read
// at one moment.
type Snapshot struct {
	Name       string
	URL        string // without the password
	OnDemand   bool
	Disabled   bool
	Status     capture.Status
	Viewers    Viewers
	JPEG       frames.HubStats
	Detections detections.Stats
}

// Snapshot reads the camera's health and counters.
func (c *Camera) Snapshot() Snapshot {
	s := Snapshot{Name: c.cfg.Name, URL: c.url, OnDemand: c.cfg.OnDemand, Disabled: c.cam == nil}
	if c.cam != nil {
		s.Status = c.cam.Status()
		s.Viewers = c.Viewers()
		s.JPEG = c.jpeg.Stats()
		s.Detections = c.det.Stats(time.Now())
	}
	return s
}

func (c *Camera) changed() {
	if c.opts.Changed != nil {
		c.opts.Changed()
	}
}

// Run runs the camera until ctx ends: its capture, always or while it has
// readers, and its JPEG decoders. When ctx ends it closes the stream, which
// ends every viewer, and returns once the capture and every ffmpeg have
// stopped. A disabled camera returns at once.
func (c *Camera) Run(ctx context.Context) error {
	if c.cam == nil {
		return nil
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = c.jpeg.Run(ctx)
	}()
	if c.cfg.OnDemand {
		c.pullOnDemand(ctx)
	} else {
		c.pullAlways(ctx)
	}
	wg.Wait()
	return nil
}

// pullAlways runs the capture until ctx ends, telling it whether anyone
// reads its frames.
func (c *Camera) pullAlways(ctx context.Context) {
	c.cam.SetUnwatched(c.st.Readers() == 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.cam.Run(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			c.st.Close()
			<-done
			return
		case <-c.cam.Changed():
			c.changed()
		case <-c.st.ReadersChanged():
			c.cam.SetUnwatched(c.st.Readers() == 0)
			c.changed()
		}
	}
}
