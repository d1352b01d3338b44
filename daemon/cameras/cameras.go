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

// Plus adds two counts, e.g. a camera's two streams'.
func (v Viewers) Plus(o Viewers) Viewers {
	return Viewers{WebRTC: v.WebRTC + o.WebRTC, MJPEG: v.MJPEG + o.MJPEG, WebSocket: v.WebSocket + o.WebSocket, Frames: v.Frames + o.Frames}
}

// Camera is one configured camera: its main stream and, when configured,
// its sub-stream, each a Feed. A disabled camera has no feeds; it is
// listed and nothing else.
type Camera struct {
	cfg  config.Camera
	jcfg config.JPEG // effective: the global section with this camera's overrides
	// url is cfg.URL without its password, made once: the API shows it often.
	url  string
	opts Options

	main *Feed
	sub  *Feed // nil without sub_url
	det  *detections.Store
}

// New prepares a camera; nothing runs until Run.
func New(c config.Camera, j config.JPEG, opts Options) *Camera {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.OnDemandLinger <= 0 {
		opts.OnDemandLinger = DefaultOnDemandLinger
	}
	cam := &Camera{cfg: c, jcfg: j, url: redact.URL(c.URL), opts: opts}
	if c.Disabled {
		return cam
	}
	log := opts.Log.With("camera", c.Name)
	cam.det = detections.NewStore(c.Name)
	if c.SubURL == "" {
		cam.main = newFeed(Main, c, c.URL, c.Transport, j, opts, log)
		return cam
	}
	// With two streams every line says which one it is about.
	cam.main = newFeed(Main, c, c.URL, c.Transport, j, opts, log.With("stream", string(Main)))
	cam.sub = newFeed(Sub, c, c.SubURL, c.SubStreamTransport(), j, opts, log.With("stream", string(Sub)))
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
func (c *Camera) Disabled() bool { return c.main == nil }

// Feed returns the named stream of the camera; false when the camera is
// disabled or has no such stream.
func (c *Camera) Feed(name StreamName) (*Feed, bool) {
	switch {
	case c.main == nil:
		return nil, false
	case name == Sub:
		return c.sub, c.sub != nil
	}
	return c.main, true
}

// RetryNow makes each of the camera's streams that waits to try again try
// at once, and reports whether any was waiting or connecting.
func (c *Camera) RetryNow() bool {
	woke := false
	for _, f := range []*Feed{c.main, c.sub} {
		if f != nil && f.cam.RetryNow() {
			woke = true
		}
	}
	return woke
}

// Same reports whether the camera was made from these settings, so a reload
// can keep it running.
func (c *Camera) Same(cfg config.Camera, j config.JPEG) bool {
	return c.cfg.Equal(cfg) && c.jcfg == j
}

// Stream is the main stream's fan-out; nil when disabled.
func (c *Camera) Stream() *stream.Stream {
	if c.main == nil {
		return nil
	}
	return c.main.st
}

// JPEG is the main stream's decoders of pictures, JPEG or raw; nil when
// disabled.
func (c *Camera) JPEG() *frames.Hub {
	if c.main == nil {
		return nil
	}
	return c.main.jpeg
}

// Detections is what models found in the camera's frames; nil when
// disabled.
func (c *Camera) Detections() *detections.Store { return c.det }

// Status is the main stream's health; a disabled camera's is the zero
// Status.
func (c *Camera) Status() capture.Status {
	if c.main == nil {
		return capture.Status{}
	}
	return c.main.Status()
}

// Viewers counts the viewers of all the camera's streams by transport.
func (c *Camera) Viewers() Viewers {
	if c.main == nil {
		return Viewers{}
	}
	v := c.main.Viewers()
	if c.sub != nil {
		v = v.Plus(c.sub.Viewers())
	}
	return v
}

// Watch counts a viewer of kind on the main stream until the returned
// function is called, and logs its coming and going.
func (c *Camera) Watch(kind Kind) (leave func()) { return c.main.watch(kind, c.changed) }

// WatchFeed is Watch for a viewer of feed f of this camera.
func (c *Camera) WatchFeed(f *Feed, kind Kind) (leave func()) { return f.watch(kind, c.changed) }

// Snapshot is everything the API and the metrics show of a camera, read
// at one moment. Status, Viewers and JPEG are the main stream's.
type Snapshot struct {
	Name       string
	URL        string // without the password
	OnDemand   bool
	Disabled   bool
	Status     capture.Status
	Viewers    Viewers
	JPEG       frames.HubStats
	Detections detections.Stats
	// Sub is the sub-stream's; nil when the camera has none.
	Sub *StreamSnapshot
}

// Snapshot reads the camera's health and counters.
func (c *Camera) Snapshot() Snapshot {
	s := Snapshot{Name: c.cfg.Name, URL: c.url, OnDemand: c.cfg.OnDemand, Disabled: c.main == nil}
	if c.main == nil {
		return s
	}
	m := c.main.snapshot()
	s.Status, s.Viewers, s.JPEG = m.Status, m.Viewers, m.JPEG
	s.Detections = c.det.Stats(time.Now())
	if c.sub != nil {
		sub := c.sub.snapshot()
		s.Sub = &sub
	}
	return s
}

func (c *Camera) changed() {
	if c.opts.Changed != nil {
		c.opts.Changed()
	}
}

// Run runs the camera until ctx ends: each of its streams' capture, always
// or while it has readers, and its JPEG decoders, side by side. When ctx
// ends it closes the streams, which ends every viewer, and returns once
// every capture and every ffmpeg have stopped. A disabled camera returns
// at once.
func (c *Camera) Run(ctx context.Context) error {
	if c.main == nil {
		return nil
	}
	p := pulling{changed: c.changed, linger: c.opts.OnDemandLinger}
	var wg sync.WaitGroup
	for _, f := range []*Feed{c.main, c.sub} {
		if f == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.run(ctx, c.cfg.OnDemand, p)
		}()
	}
	wg.Wait()
	return nil
}
