package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/stream/frames"
)

func (s *Server) handleMJPEG(w http.ResponseWriter, r *http.Request) {
	c, f, req := s.jpegCamera(w, r)
	if c == nil {
		return
	}
	v, err := f.JPEG().Subscribe(req.variant)
	if err != nil {
		s.jpegUnavailable(w, c, f, err)
		return
	}
	defer v.Close()
	defer c.WatchFeed(f, cameras.MJPEG)()

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
	_ = sendFrames(r.Context(), v, req, func(f frames.Frame) error {
		_ = rc.SetWriteDeadline(time.Now().Add(frameWriteTimeout))
		header = append(header[:0], "Content-Type: image/jpeg\r\nContent-Length: "...)
		header = strconv.AppendInt(header, int64(len(f.Data)), 10)
		header = append(header, "\r\n\r\n"...)
		if _, err := w.Write(header); err != nil {
			return err
		}
		if _, err := w.Write(f.Data); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\r\n"+mjpegDelimiter); err != nil {
			return err
		}
		return rc.Flush()
	})
}

// WSInfo is the first message on a JPEG WebSocket.
type WSInfo struct {
	Type   string  `json:"type"`
	Camera string  `json:"camera"`
	Stream string  `json:"stream"` // main or sub
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps"`
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	c, f, req := s.jpegCamera(w, r)
	if c == nil {
		return
	}
	conn, v, ok := acceptViewer(w, r, f, req.variant)
	if !ok {
		return
	}
	defer conn.CloseNow()
	defer v.Close()
	// Viewers only listen; reading in the background answers pings and
	// notices the close, which cancels ctx. Anything they send beyond a
	// small limit ends the connection.
	conn.SetReadLimit(4096)
	ctx := conn.CloseRead(r.Context())
	context.AfterFunc(ctx, func() { closeSoon(r) })
	defer c.WatchFeed(f, cameras.WebSocket)()

	fps := req.fps
	if fps == 0 {
		fps = f.JPEG().Settings().FPS
	}
	if f.JPEG().Settings().KeyframesOnly {
		fps = 0 // one picture per camera GOP: the rate depends on the camera
	}
	// With ?meta=1 each picture is preceded by its FrameMeta, so the page
	// can draw detections on the frame they belong to.
	meta := r.URL.Query().Get("meta") == "1"
	sentInfo := false
	err := sendFrames(ctx, v, req, func(p frames.Frame) error {
		wctx, cancel := context.WithTimeout(ctx, frameWriteTimeout)
		defer cancel()
		if !sentInfo {
			// The size is known once the first picture is decoded.
			info, _ := json.Marshal(WSInfo{Type: "info", Camera: c.Name(), Stream: string(f.Name()), Width: p.Width, Height: p.Height, FPS: fps})
			if err := conn.Write(wctx, websocket.MessageText, info); err != nil {
				return err
			}
			sentInfo = true
		}
		if meta {
			m, _ := json.Marshal(metaOf(p, 0))
			if err := conn.Write(wctx, websocket.MessageText, m); err != nil {
				return err
			}
		}
		return conn.Write(wctx, websocket.MessageBinary, p.Data)
	})
	endSession(ctx, r, conn, err)
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
