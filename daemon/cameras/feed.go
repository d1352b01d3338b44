package cameras

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/redact"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/frames"
)

// StreamName names one of a camera's streams, as ?stream= and the metrics'
// stream label do.
type StreamName string

// A camera's streams: every camera has a main stream; one with sub_url also
// a sub-stream.
const (
	Main StreamName = "main"
	Sub  StreamName = "sub"
)

// ParseStream reads a ?stream= value; "" is the main stream.
func ParseStream(s string) (StreamName, error) {
	switch StreamName(s) {
	case "", Main:
		return Main, nil
	case Sub:
		return Sub, nil
	}
	return "", fmt.Errorf("stream=%q: want main or sub", truncate(s))
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Feed is one stream of a camera: its RTSP capture, the stream that fans
// it out, its decoders and its viewer counts. A camera's feeds run side by
// side and fail alone: the sub-stream going down leaves the main one
// playing.
type Feed struct {
	name StreamName
	url  string // without the password
	log  *slog.Logger

	cam  *capture.Camera
	st   *stream.Stream
	jpeg *frames.Hub

	viewers [numKinds]atomic.Int64
}

// newFeed prepares the feed of one stream of camera c from url over
// transport; nothing runs until run.
func newFeed(name StreamName, c config.Camera, url string, transport config.Transport, j config.JPEG, opts Options, log *slog.Logger) *Feed {
	f := &Feed{name: name, url: redact.URL(url), log: log}
	// The sub-stream's stream carries the camera's name too: WHEP sessions
	// are found by the camera named in their URL.
	codec := captureCodec(c.Codec)
	label := ""
	if c.SubURL != "" {
		label = string(name) // with two streams every line says which
	}
	f.st = stream.New(c.Name, stream.Options{MaxReaders: c.MaxViewers, Codec: codec, Label: label})
	f.cam = capture.New(capture.Config{
		Name:           c.Name,
		URL:            url,
		Transport:      capture.Transport(transport),
		ConnectTimeout: c.ConnectTimeout.D(),
		ReadTimeout:    c.ReadTimeout.D(),
		StaleAfter:     c.StaleAfter.D(),
		Codec:          codec,
	}, f.st, log)
	f.jpeg = frames.NewHub(f.st, frames.Settings{
		FFmpeg:        j.FFmpeg,
		FPS:           j.FPS,
		Width:         j.MaxWidth,
		Quality:       j.Quality,
		KeyframesOnly: j.KeyframesOnly,
		HWAccel:       frames.HWAccel(j.HWAccel),
		IdleStop:      j.IdleStop.D(),
		MaxDecoders:   j.MaxDecodersPerCamera,
		Budget:        opts.Decoders,
	}, log)
	return f
}

// Name says which of the camera's streams this is.
func (f *Feed) Name() StreamName { return f.name }

// Stream is the feed's fan-out.
func (f *Feed) Stream() *stream.Stream { return f.st }

// JPEG is the feed's decoders of pictures, JPEG or raw.
func (f *Feed) JPEG() *frames.Hub { return f.jpeg }

// Status is the feed's capture health.
func (f *Feed) Status() capture.Status { return f.cam.Status() }

// Viewers counts the feed's viewers by transport.
func (f *Feed) Viewers() Viewers {
	return Viewers{
		WebRTC:    f.st.Viewers(),
		MJPEG:     int(f.viewers[MJPEG].Load()),
		WebSocket: int(f.viewers[WebSocket].Load()),
		Frames:    int(f.viewers[Frames].Load()),
	}
}

// watch counts a viewer of kind until the returned function is called,
// calling changed at both ends, and logs its coming and going.
func (f *Feed) watch(kind Kind, changed func()) (leave func()) {
	name := [...]string{MJPEG: "mjpeg", WebSocket: "websocket", Frames: "frames"}[kind]
	f.viewers[kind].Add(1)
	changed()
	f.log.Info("viewer joined", "transport", name)
	var once sync.Once
	return func() {
		once.Do(func() {
			f.viewers[kind].Add(-1)
			changed()
			f.log.Info("viewer left", "transport", name)
		})
	}
}

// StreamSnapshot is one feed's health and counters, read at one moment.
type StreamSnapshot struct {
	URL     string // without the password
	Status  capture.Status
	Viewers Viewers
	JPEG    frames.HubStats
}

func (f *Feed) snapshot() StreamSnapshot {
	return StreamSnapshot{URL: f.url, Status: f.cam.Status(), Viewers: f.Viewers(), JPEG: f.jpeg.Stats()}
}

// run runs the feed's decoders, and its capture always or on demand, until
// ctx ends; then it closes the stream, ending its viewers, and returns once
// the capture and every ffmpeg have stopped.
func (f *Feed) run(ctx context.Context, onDemand bool, p pulling) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = f.jpeg.Run(ctx)
	}()
	if onDemand {
		f.pullOnDemand(ctx, p)
	} else {
		f.pullAlways(ctx, p)
	}
	wg.Wait()
}

// pulling is what a feed's pull loop needs of its camera.
type pulling struct {
	changed func()
	linger  time.Duration // on demand: how long after the last reader
}

// pullAlways runs the capture until ctx ends, telling it whether anyone
// reads its frames.
func (f *Feed) pullAlways(ctx context.Context, p pulling) {
	f.cam.SetUnwatched(f.st.Readers() == 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.cam.Run(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			f.st.Close()
			<-done
			return
		case <-f.cam.Changed():
			p.changed()
		case <-f.st.ReadersChanged():
			f.cam.SetUnwatched(f.st.Readers() == 0)
			p.changed()
		}
	}
}
