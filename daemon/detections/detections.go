// Package detections takes what vision models find in a camera's pictures
// and keeps it for the viewers: each message names the frame it describes
// by the frame's timestamp, so that every viewer can draw the boxes on that
// very frame. Messages are checked strictly (a model posting garbage gets
// told what is wrong and disturbs nobody), kept for a few seconds so that a
// viewer who joins sees the current boxes at once, and counted for the API
// and the metrics.
package detections

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"
)

// Version is the schema version this package reads and writes.
const Version = 1

// Limits of one message.
const (
	// MaxBody is the most bytes a message may have.
	MaxBody = 64 << 10
	// MaxObjects is the most objects a message may list.
	MaxObjects = 256
	// maxText bounds a model's name and a label.
	maxText = 64
)

// Message is one model's findings in one frame, as a model sends it.
type Message struct {
	// Type is "detections" or absent; the frames WebSocket needs it to
	// tell a model's messages apart.
	Type string `json:"type,omitempty"`
	// Version is the schema version; 0 (absent) means Version.
	Version int `json:"version"`
	// PTS is the frame's timestamp, from its metadata on /frames or the
	// JPEG WebSocket: the frame's RTP timestamp.
	PTS *uint32 `json:"pts,omitempty"`
	// Seq names the frame by its sequence number instead; only on the
	// frames WebSocket that delivered it.
	Seq *uint64 `json:"seq,omitempty"`
	// Model names what made the findings, e.g. "yolov8n" or "motion".
	Model string `json:"model"`
	// Objects are the things found; none says the frame holds nothing.
	Objects []Object `json:"objects"`
}

// Object is one thing a model found.
type Object struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
	Box   Box     `json:"box"`
	// Track, if set, identifies the object across frames.
	Track *int64 `json:"track,omitempty"`
	// Color, if set, is "#rrggbb" to draw the box in; otherwise the page
	// picks one per label.
	Color string `json:"color,omitempty"`
}

// Box is a rectangle in normalized image coordinates: (0, 0) is the
// picture's top left corner, (1, 1) its bottom right.
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// Error is why a message is refused, with the HTTP status that says so.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// Parse decodes and checks a message. Errors are *Error: 400 for what is
// not a message at all, 422 for a message that breaks the schema's rules.
func Parse(data []byte) (*Message, error) {
	if len(data) > MaxBody {
		return nil, refuse(413, "the message is larger than %d bytes", MaxBody)
	}
	var m Message
	if err := decodeMessage(data, &m); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, refuse(400, "not a detections message: %v", err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// check applies the schema's rules.
func (m *Message) check() *Error {
	if m.Type != "" && m.Type != "detections" {
		return refuse(400, "type %q: a detections message has type \"detections\" or none", m.Type)
	}
	if m.Version == 0 {
		m.Version = Version
	}
	if m.Version != Version {
		return refuse(422, "version %d: this edgecam reads version %d", m.Version, Version)
	}
	if m.Model == "" || len(m.Model) > maxText || !printable(m.Model) {
		return refuse(422, "model: give the model's name, 1 to %d printable characters", maxText)
	}
	if len(m.Objects) > MaxObjects {
		return refuse(422, "objects: %d listed, at most %d are allowed", len(m.Objects), MaxObjects)
	}
	for i, o := range m.Objects {
		if err := o.check(); err != nil {
			return refuse(422, "objects[%d].%s", i, err.Msg)
		}
	}
	return nil
}

func (o Object) check() *Error {
	if o.Label == "" || len(o.Label) > maxText || !printable(o.Label) {
		return refuse(422, "label: give a label, 1 to %d printable characters", maxText)
	}
	if !(o.Score >= 0 && o.Score <= 1) {
		return refuse(422, "score: %v is not between 0 and 1", o.Score)
	}
	b := o.Box
	const slack = 1e-6 // rounding in the model's arithmetic
	for _, v := range []float64{b.X, b.Y, b.W, b.H} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return refuse(422, "box: not a number")
		}
	}
	if b.X < -slack || b.Y < -slack || b.W <= 0 || b.H <= 0 || b.X+b.W > 1+slack || b.Y+b.H > 1+slack {
		return refuse(422, "box: {x: %g, y: %g, w: %g, h: %g} is not inside the picture: x, y, w and h are fractions of its size, from 0 to 1", b.X, b.Y, b.W, b.H)
	}
	if o.Track != nil && *o.Track < 0 {
		return refuse(422, "track: %d must not be negative", *o.Track)
	}
	if o.Color != "" && !colorRE.MatchString(o.Color) {
		return refuse(422, "color: %q is not #rrggbb", o.Color)
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Detection is a message as edgecam keeps and sends it to viewers: the
// camera and the frame's timestamp it belongs to, when it came, and how
// long after the frame arrived from the camera.
type Detection struct {
	Version int       `json:"version"`
	Camera  string    `json:"camera"`
	PTS     uint32    `json:"pts"`
	Model   string    `json:"model"`
	Objects []Object  `json:"objects"`
	Time    time.Time `json:"time"`
	// Latency is seconds from the frame's arrival to the message's.
	Latency float64 `json:"latency"`
}
