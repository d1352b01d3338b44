package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/jpeg"
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

// jpegSettings turns a camera's configuration into decoder settings.
func jpegSettings(j config.JPEG) jpeg.Settings {
	return jpeg.Settings{
		FFmpeg:        j.FFmpeg,
		FPS:           j.FPS,
		Width:         j.MaxWidth,
		Quality:       j.Quality,
		KeyframesOnly: j.KeyframesOnly,
		HWAccel:       j.HWAccel,
		IdleStop:      j.IdleStop.D(),
	}
}

// jpegRequest is a JPEG viewer's validated query.
type jpegRequest struct {
	variant jpeg.Variant
	fps     float64 // 0 = every frame the decoder makes
}

// parseJPEGQuery reads fps, width and quality. Values beyond the camera's
// configured limits are clamped to them; values that make no sense are errors.
func parseJPEGQuery(r *http.Request, j config.JPEG) (jpegRequest, error) {
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
		req.variant.Width = min(v, j.MaxWidth)
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

// jpegCamera finds the camera of a JPEG request and checks the query; it
// answers the error itself and returns nil then.
func (d *Daemon) jpegCamera(w http.ResponseWriter, r *http.Request) (*cameraUnit, jpegRequest) {
	name := r.PathValue("name")
	u, ok := d.cameras().byName[name]
	if !ok || u.cam == nil {
		msg := "no camera named " + quoteName(name)
		if ok {
			msg = "camera " + quoteName(name) + " is disabled"
		}
		httpError(w, http.StatusNotFound, msg)
		return nil, jpegRequest{}
	}
	req, err := parseJPEGQuery(r, u.jcfg)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return nil, jpegRequest{}
	}
	return u, req
}

// jpegUnavailable answers why a camera cannot give JPEG now.
func (d *Daemon) jpegUnavailable(w http.ResponseWriter, u *cameraUnit, err error) {
	switch {
	case errors.Is(err, jpeg.ErrNoFFmpeg):
		httpError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, jpeg.ErrClosed), errors.Is(err, stream.ErrClosed):
		httpError(w, http.StatusServiceUnavailable, "camera is shutting down")
	case errors.Is(err, context.DeadlineExceeded):
		s := u.cam.Status()
		msg := "no picture from the camera yet"
		if s.State != capture.StateStreaming && s.LastError != "" {
			msg += " (" + string(s.State) + ": " + s.LastError + ")"
		}
		w.Header().Set("Retry-After", "2")
		httpError(w, http.StatusServiceUnavailable, msg)
	default:
		d.log.Warn("jpeg failed", "camera", u.cfg.Name, "error", err)
		httpError(w, http.StatusServiceUnavailable, "jpeg unavailable: "+err.Error())
	}
}

// cameraDown says whether the camera cannot give a picture soon, so a
// snapshot fails at once instead of waiting out its timeout.
func cameraDown(u *cameraUnit) (bool, string) {
	s := u.cam.Status()
	switch s.State {
	case capture.StateRetrying, capture.StateUnsupported:
		return !u.st.HasPicture(), fmt.Sprintf("camera is %s: %s", s.State, s.LastError)
	}
	return false, ""
}

func (d *Daemon) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	u, req := d.jpegCamera(w, r)
	if u == nil {
		return
	}
	if down, why := cameraDown(u); down {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, why)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	f, err := u.jpeg.Snapshot(ctx, req.variant)
	if err != nil {
		d.jpegUnavailable(w, u, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(f.JPEG)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s-%s.jpg"`, u.cfg.Name, f.Time.UTC().Format("20060102-150405")))
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(f.JPEG)
}

// frames calls send with each new frame for a viewer, at most req.fps per
// second, newest first: a slow viewer skips frames instead of queueing them.
func frames(ctx context.Context, v *jpeg.Viewer, req jpegRequest, send func(jpeg.Frame) error) error {
	var last uint64
	var interval time.Duration
	if req.fps > 0 {
		interval = time.Duration(float64(time.Second) / req.fps)
	}
	next := time.Now()
	for {
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		f, err := v.Next(ctx, last)
		if err != nil {
			return err
		}
		last = f.Seq
		if err := send(f); err != nil {
			return err
		}
		next = time.Now().Add(interval)
	}
}

func (d *Daemon) handleMJPEG(w http.ResponseWriter, r *http.Request) {
	u, req := d.jpegCamera(w, r)
	if u == nil {
		return
	}
	v, err := u.jpeg.Subscribe(req.variant)
	if err != nil {
		d.jpegUnavailable(w, u, err)
		return
	}
	defer v.Close()
	u.mjpegViewers.Add(1)
	defer u.mjpegViewers.Add(-1)
	d.log.Info("viewer joined", "camera", u.cfg.Name, "transport", "mjpeg")
	defer d.log.Info("viewer left", "camera", u.cfg.Name, "transport", "mjpeg")

	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+mjpegBoundary)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// Each picture is followed at once by the next delimiter: multipart
	// readers (Go's, browsers', OpenCV's) know a part is complete only when
	// they see the delimiter after it, so a delimiter sent in front of the
	// next picture would hold every picture back by one frame period, a
	// whole GOP with keyframes_only.
	if _, err := io.WriteString(w, mjpegDelimiter); err != nil {
		return
	}
	_ = rc.Flush()
	header := make([]byte, 0, 128)
	_ = frames(r.Context(), v, req, func(f jpeg.Frame) error {
		_ = rc.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
		header = append(header[:0], "Content-Type: image/jpeg\r\nContent-Length: "...)
		header = strconv.AppendInt(header, int64(len(f.JPEG)), 10)
		header = append(header, "\r\n\r\n"...)
		if _, err := w.Write(header); err != nil {
			return err
		}
		if _, err := w.Write(f.JPEG); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\r\n"+mjpegDelimiter); err != nil {
			return err
		}
		return rc.Flush()
	})
}

// wsInfo is the first message on a JPEG WebSocket.
type wsInfo struct {
	Type   string  `json:"type"`
	Camera string  `json:"camera"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps"`
}

func (d *Daemon) handleWS(w http.ResponseWriter, r *http.Request) {
	u, req := d.jpegCamera(w, r)
	if u == nil {
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client
	}
	defer c.CloseNow()
	// Browsers hide the HTTP status of a failed handshake, so refusals
	// are sent over the socket: an error message, then close 1011.
	v, err := u.jpeg.Subscribe(req.variant)
	if err != nil {
		wsFail(c, err)
		return
	}
	defer v.Close()
	// Viewers only listen; reading in the background answers pings and
	// notices the close, which cancels ctx. Anything they send beyond a
	// small limit ends the connection.
	c.SetReadLimit(4096)
	ctx := c.CloseRead(r.Context())
	u.wsViewers.Add(1)
	defer u.wsViewers.Add(-1)
	d.log.Info("viewer joined", "camera", u.cfg.Name, "transport", "websocket")
	defer d.log.Info("viewer left", "camera", u.cfg.Name, "transport", "websocket")

	fps := req.fps
	if fps == 0 {
		fps = u.jcfg.FPS
	}
	if u.jcfg.KeyframesOnly {
		fps = 0 // one picture per camera GOP: the rate depends on the camera
	}
	sentInfo := false
	err = frames(ctx, v, req, func(f jpeg.Frame) error {
		wctx, cancel := context.WithTimeout(ctx, frameWriteTimeout)
		defer cancel()
		if !sentInfo {
			// The size is known once the first picture is decoded.
			info, _ := json.Marshal(wsInfo{Type: "info", Camera: u.cfg.Name, Width: f.Width, Height: f.Height, FPS: fps})
			if err := c.Write(wctx, websocket.MessageText, info); err != nil {
				return err
			}
			sentInfo = true
		}
		return c.Write(wctx, websocket.MessageBinary, f.JPEG)
	})
	if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
		wsFail(c, err)
		return
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// wsFail tells a WebSocket viewer why it gets no pictures and closes.
func wsFail(c *websocket.Conn, err error) {
	msg, _ := json.Marshal(map[string]string{"type": "error", "error": err.Error()})
	wctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = c.Write(wctx, websocket.MessageText, msg)
	cancel()
	c.Close(websocket.StatusInternalError, truncateReason(err.Error()))
}

// truncateReason fits a close reason into a WebSocket control frame.
func truncateReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
