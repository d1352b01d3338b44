package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/detections"
	"github.com/edgecam/edgecam/daemon/ratelimit"
	"github.com/edgecam/edgecam/stream/frames"
)

// FramesVersion is the version of the /frames protocol: the messages below.
const FramesVersion = 1

// FramesInfo is the first message on /frames, once the first picture is
// made: what every picture of the socket will be.
type FramesInfo struct {
	Type          string  `json:"type"` // "info"
	Version       int     `json:"version"`
	Camera        string  `json:"camera"`
	Stream        string  `json:"stream"` // main or sub
	Format        string  `json:"format"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	Stride        int     `json:"stride"`
	FPS           float64 `json:"fps"`
	KeyframesOnly bool    `json:"keyframes_only"`
}

// FrameMeta is the text message before each picture on /frames (and on the
// JPEG WebSocket with ?meta=1): which access unit the picture was decoded
// from, and what the binary message after it holds.
type FrameMeta struct {
	Type string `json:"type"` // "frame"
	// Seq counts the pictures of the socket's decoder.
	Seq uint64 `json:"seq"`
	// PTS is the frame's RTP timestamp (90 kHz), the one WebRTC viewers of
	// the camera receive it with; detections name the frame by it.
	PTS uint32 `json:"pts"`
	// Received is when the frame arrived from the camera; Time when its
	// picture was decoded.
	Received time.Time `json:"received"`
	Time     time.Time `json:"time"`
	Keyframe bool      `json:"keyframe"`
	Format   string    `json:"format"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	// Stride is bytes per row of raw pixels; 0 for JPEG.
	Stride int `json:"stride"`
	// Size is the binary message's length.
	Size int `json:"size"`
	// Dropped counts the pictures made for this socket while it was still
	// taking the one before: what a slow reader missed.
	Dropped uint64 `json:"dropped"`
}

func metaOf(f frames.Frame, dropped uint64) FrameMeta {
	return FrameMeta{Type: "frame", Seq: f.Seq, PTS: f.PTS, Received: f.Received, Time: f.Time, Keyframe: f.Keyframe,
		Format: string(f.Format), Width: f.Width, Height: f.Height, Stride: f.Stride, Size: len(f.Data), Dropped: dropped}
}

// framesRequest is a /frames query: the JPEG one plus format and
// keyframes_only.
func parseFramesQuery(r *http.Request, s frames.Settings) (jpegRequest, error) {
	req, err := parseJPEGQuery(r, s)
	if err != nil {
		return req, err
	}
	q := r.URL.Query()
	req.variant.Format = frames.FormatBGR24
	if v := q.Get("format"); v != "" {
		if req.variant.Format, err = frames.ParseFormat(v); err != nil {
			return req, err
		}
	}
	if req.variant.Format.Raw() && q.Get("quality") != "" {
		return req, errors.New("quality applies to format=jpeg only")
	}
	if v := q.Get("keyframes_only"); v != "" {
		if req.variant.KeyframesOnly, err = strconv.ParseBool(v); err != nil {
			return req, errors.New("keyframes_only=" + truncate(v) + ": want true or false")
		}
	}
	return req, nil
}

// handleFrames streams decoded pictures to a model over a WebSocket, and
// takes its detections back on the same socket.
func (s *Server) handleFrames(w http.ResponseWriter, r *http.Request) {
	c, f := s.feed(w, r)
	if c == nil {
		return
	}
	req, err := parseFramesQuery(r, f.JPEG().Settings())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	conn, v, ok := acceptViewer(w, r, f, req.variant)
	if !ok {
		return
	}
	defer conn.CloseNow()
	defer v.Close()
	defer c.WatchFeed(f, cameras.Frames)()
	conn.SetReadLimit(detections.MaxBody + 1024)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The reader's end ends the session, even while a write is stuck.
	context.AfterFunc(ctx, func() { closeSoon(r) })
	fs := &frameSocket{s: s, c: c, stream: f.Name(), conn: conn, v: v, req: req, addr: ratelimit.ClientAddr(r), sent: map[uint64]uint32{}}
	go fs.readDetections(ctx, cancel)
	endSession(ctx, r, conn, fs.send(ctx))
}

// frameSocket is one /frames connection.
type frameSocket struct {
	s      *Server
	c      *cameras.Camera
	stream cameras.StreamName
	conn   *websocket.Conn
	v      *frames.Viewer
	req    jpegRequest
	addr   string // the client's, for the detections' rate limit

	mu   sync.Mutex
	sent map[uint64]uint32 // seq → pts of the pictures sent lately, for detections by seq

	// pair keeps a picture's metadata and the picture together: an error
	// answering a model's message is written between pairs, never inside
	// one, as the protocol promises.
	pair sync.Mutex
}

// keepSent is how many pictures' seq a socket remembers.
const keepSent = 256

// send writes the newest picture, at most req.fps a second, until the
// client goes or a write fails.
func (fs *frameSocket) send(ctx context.Context) error {
	p := newPacer(fs.req.fps, fs.v)
	var last, busyUntil, dropped uint64
	sentInfo := false
	for {
		f, err := fs.v.Next(ctx, last)
		if err != nil {
			return err
		}
		// Pictures made while the last one was being sent were missed
		// because this client was slow; those skipped for the fps cap
		// were not wanted.
		if last > 0 && busyUntil > last {
			dropped += min(busyUntil, f.Seq-1) - last
		}
		last = f.Seq
		if !p.take(f) {
			continue
		}
		if !sentInfo {
			if err := fs.writeJSON(ctx, FramesInfo{Type: "info", Version: FramesVersion, Camera: fs.c.Name(), Stream: string(fs.stream), Format: string(f.Format),
				Width: f.Width, Height: f.Height, Stride: f.Stride, FPS: fs.req.fps, KeyframesOnly: fs.req.variant.KeyframesOnly}); err != nil {
				return err
			}
			sentInfo = true
		}
		fs.remember(f)
		fs.pair.Lock()
		err = fs.writeJSON(ctx, metaOf(f, dropped))
		if err == nil {
			err = fs.write(ctx, websocket.MessageBinary, f.Data)
		}
		fs.pair.Unlock()
		if err != nil {
			return err
		}
		busyUntil = fs.v.Newest()
	}
}

func (fs *frameSocket) remember(f frames.Frame) {
	if !f.Source {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.sent) >= keepSent {
		for seq := range fs.sent {
			if seq+keepSent < f.Seq {
				delete(fs.sent, seq)
			}
		}
	}
	fs.sent[f.Seq] = f.PTS
}

func (fs *frameSocket) writeJSON(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return fs.write(ctx, websocket.MessageText, data)
}

func (fs *frameSocket) write(ctx context.Context, typ websocket.MessageType, data []byte) error {
	wctx, cancel := context.WithTimeout(ctx, frameWriteTimeout)
	defer cancel()
	return fs.conn.Write(wctx, typ, data)
}

// detectionsError answers a message the socket could not take.
type detectionsError struct {
	Type   string `json:"type"` // "error"
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// readDetections takes the detections the model sends back as text
// messages, until the socket closes; then it cancels the sending side.
func (fs *frameSocket) readDetections(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	for {
		typ, data, err := readMessage(ctx, fs.conn)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		if err := fs.takeDetections(data); err != nil {
			e := &detections.Error{Status: http.StatusBadRequest, Msg: err.Error()}
			errors.As(err, &e)
			fs.pair.Lock()
			_ = fs.writeJSON(ctx, detectionsError{Type: "error", Status: e.Status, Error: e.Msg})
			fs.pair.Unlock()
		}
	}
}

// takeDetections accepts one message from the socket: a detections message
// with "type": "detections", naming its frame by pts or by seq.
func (fs *frameSocket) takeDetections(data []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Type != "detections" {
		return &detections.Error{Status: http.StatusBadRequest, Msg: `send detections as {"type": "detections", "pts": …, "model": …, "objects": […]}`}
	}
	if fs.stream != cameras.Main {
		// The page draws detections on the main stream's frames, by pts.
		return &detections.Error{Status: 422, Msg: "detections name frames of the main stream; send them on a /frames socket of the main stream"}
	}
	if !fs.s.detectionLimit.Allow(fs.c.Name() + " " + fs.addr) {
		return &detections.Error{Status: http.StatusTooManyRequests, Msg: "too many detections a second for this camera"}
	}
	m, err := detections.Parse(data)
	if err != nil {
		return err
	}
	pts := m.PTS
	if pts == nil && m.Seq != nil {
		fs.mu.Lock()
		p, ok := fs.sent[*m.Seq]
		fs.mu.Unlock()
		if !ok {
			return &detections.Error{Status: 422, Msg: "seq " + strconv.FormatUint(*m.Seq, 10) + ": not a picture this socket sent lately"}
		}
		pts = &p
	}
	return fs.s.accept(fs.c, m, pts)
}
