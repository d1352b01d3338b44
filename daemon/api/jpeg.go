package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/frames"
)

const (
	// frameWriteTimeout drops a JPEG viewer that stops reading: its
	// connection, goroutine and decoder share are released.
	frameWriteTimeout = 10 * time.Second
	// snapshotTimeout bounds how long a snapshot waits for a first picture
	// (an on-demand camera must connect first).
	snapshotTimeout = 10 * time.Second
	mjpegBoundary   = "edgecamframe"
	mjpegDelimiter  = "--" + mjpegBoundary + "\r\n"
)

// jpegRequest is a JPEG viewer's validated query.
type jpegRequest struct {
	variant frames.Variant
	fps     float64 // 0 = every frame the decoder makes
}

// parseJPEGQuery reads fps, width and quality. Values beyond the camera's
// configured limits are clamped to them; values that make no sense are errors.
func parseJPEGQuery(r *http.Request, j frames.Settings) (jpegRequest, error) {
	var req jpegRequest
	q := r.URL.Query()
	if s := q.Get("fps"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || v <= 0 {
			return req, fmt.Errorf("fps=%s: want a number greater than 0", truncate(s))
		}
		req.fps = min(v, j.FPS)
	}
	if s := q.Get("width"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 16 {
			return req, fmt.Errorf("width=%s: want a whole number of pixels, at least 16", truncate(s))
		}
		req.variant.Width = min(v, j.Width)
	}
	if s := q.Get("quality"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 100 {
			return req, fmt.Errorf("quality=%s: want a whole number from 1 to 100", truncate(s))
		}
		req.variant.Quality = v
	}
	return req, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return strconv.Quote(s[:32] + "…")
	}
	return strconv.Quote(s)
}

// jpegCamera finds the camera and stream of a JPEG request and checks the
// query; it answers the error itself and returns nil then.
func (s *Server) jpegCamera(w http.ResponseWriter, r *http.Request) (*cameras.Camera, *cameras.Feed, jpegRequest) {
	c, f := s.feed(w, r)
	if c == nil {
		return nil, nil, jpegRequest{}
	}
	req, err := parseJPEGQuery(r, f.JPEG().Settings())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return nil, nil, jpegRequest{}
	}
	return c, f, req
}

// jpegUnavailable answers why a camera's stream cannot give JPEG now.
func (s *Server) jpegUnavailable(w http.ResponseWriter, c *cameras.Camera, f *cameras.Feed, err error) {
	switch {
	case errors.Is(err, frames.ErrNoFFmpeg):
		httpError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, frames.ErrBusy):
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, frames.ErrClosed), errors.Is(err, stream.ErrClosed):
		httpError(w, http.StatusServiceUnavailable, "camera is shutting down")
	case errors.Is(err, context.DeadlineExceeded):
		st := f.Status()
		msg := "no picture from the camera yet"
		if st.State != capture.StateStreaming && st.LastError != "" {
			msg += " (" + string(st.State) + ": " + st.LastError + ")"
		}
		w.Header().Set("Retry-After", "2")
		httpError(w, http.StatusServiceUnavailable, msg)
	default:
		s.Log.Warn("jpeg failed", "camera", c.Name(), "stream", f.Name(), "error", err)
		httpError(w, http.StatusServiceUnavailable, "jpeg unavailable: "+err.Error())
	}
}

// cameraDown says whether the camera's stream cannot give a picture soon,
// so a snapshot fails at once instead of waiting out its timeout.
func cameraDown(f *cameras.Feed) (bool, string) {
	st := f.Status()
	switch st.State {
	case capture.StateRetrying, capture.StateUnsupported:
		what := "camera"
		if f.Name() == cameras.Sub {
			what = "sub stream"
		}
		return !f.Stream().HasPicture(), fmt.Sprintf("%s is %s: %s", what, st.State, st.LastError)
	}
	return false, ""
}

// sendFrames calls send with each new picture for a viewer, at most
// req.fps a second, newest first: a slow viewer skips pictures instead of
// queueing them.
func sendFrames(ctx context.Context, v *frames.Viewer, req jpegRequest, send func(frames.Frame) error) error {
	var last uint64
	p := newPacer(req.fps, v)
	for {
		f, err := v.Next(ctx, last)
		if err != nil {
			return err
		}
		last = f.Seq
		if !p.take(f) {
			continue
		}
		if err := send(f); err != nil {
			return err
		}
	}
}

// pacer picks the pictures of a viewer capped at fps: one made at least a
// frame interval after the last one taken, less half the decoder's own
// picture interval for its jitter (so a 25 fps decoder gives exactly every
// fifth picture at 5 fps). It never holds a picture back: the one it takes
// goes out as soon as it is made, which matters to a model whose
// detections must keep up with the video.
type pacer struct {
	gap  time.Duration
	last time.Time
}

func newPacer(fps float64, v *frames.Viewer) *pacer {
	p := &pacer{}
	if fps > 0 {
		p.gap = time.Duration(float64(time.Second)/fps - 0.5*float64(time.Second)/v.DecoderFPS())
	}
	return p
}

func (p *pacer) take(f frames.Frame) bool {
	if !p.last.IsZero() && f.Time.Sub(p.last) < p.gap {
		return false
	}
	p.last = f.Time
	return true
}
