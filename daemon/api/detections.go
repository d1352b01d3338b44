package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/detections"
	"github.com/edgecam/edgecam/daemon/ratelimit"
)

// detectionsPerSecond caps the messages one client address may post for
// one camera a second: far above a model's frame rate, far below what
// would load the box.
const detectionsPerSecond = 50

// handleDetections takes a model's findings posted as JSON.
func (s *Server) handleDetections(w http.ResponseWriter, r *http.Request) {
	c := s.camera(w, r)
	if c == nil {
		return
	}
	if !s.detectionLimit.Allow(c.Name() + " " + ratelimit.ClientAddr(r)) {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusTooManyRequests, fmt.Sprintf("more than %d detections a second for this camera from this address", detectionsPerSecond))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, detections.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the message is larger than %d bytes", detections.MaxBody))
			return
		}
		httpError(w, http.StatusBadRequest, "reading the message failed")
		return
	}
	m, err := detections.Parse(body)
	if err == nil && m.Seq != nil {
		err = &detections.Error{Status: 422, Msg: "seq: name the frame by its pts here; seq works only on the frames WebSocket that sent the frame"}
	}
	if err == nil {
		err = s.accept(c, m, m.PTS)
	}
	if err != nil {
		var e *detections.Error
		if errors.As(err, &e) {
			httpError(w, e.Status, e.Msg)
			return
		}
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// accept keeps a checked message about the camera's frame pts and sends it
// to the viewers who follow detections.
func (s *Server) accept(c *cameras.Camera, m *detections.Message, pts *uint32) error {
	if pts == nil {
		return &detections.Error{Status: 422, Msg: "pts: name the frame the detections belong to by its pts, from the frame's metadata"}
	}
	received, ok := c.Stream().Recent(*pts)
	if !ok {
		return &detections.Error{Status: 422, Msg: fmt.Sprintf("pts %d: no frame of camera %q had it in the last seconds of video", *pts, c.Name())}
	}
	d := c.Detections().Add(m, *pts, received, time.Now())
	s.Events.Publish("detections", d)
	return nil
}
