package api

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/daemon/cameras"
)

// Camera is one camera in the API: GET /api/cameras/{name}, and each entry
// of GET /api/cameras and of the "cameras" event. Its stream fields are
// the main stream's, except that the viewers count those of both streams.
type Camera struct {
	Name string `json:"name"`
	// Title is what the page shows for the camera; absent when it has
	// none, and the page shows Name.
	Title string `json:"title,omitempty"`
	URL   string `json:"url"`
	StreamStatus
	OnDemand bool `json:"on_demand"`
	// Detections says what models found lately; absent before the first
	// message.
	Detections *DetectionStats `json:"detections,omitempty"`
	// Sub is the camera's sub-stream; absent when it has none.
	Sub *SubStream `json:"sub,omitempty"`
}

// StreamStatus is the health and counters of one of a camera's streams.
type StreamStatus struct {
	State      string    `json:"state"`
	Error      string    `json:"error"`
	Codec      string    `json:"codec"`
	Width      int       `json:"width"`
	Height     int       `json:"height"`
	FPS        float64   `json:"fps"`
	Bitrate    int64     `json:"bitrate"`
	Viewers    int       `json:"viewers"`
	Reconnects uint64    `json:"reconnects"`
	Since      time.Time `json:"since"`
	// Reason, DownSince, NextRetry and Address say why a stream delivers
	// no video, since when, when it tries again and where it is dialled
	// (see capture.Status).
	Reason    string     `json:"reason"`
	DownSince *time.Time `json:"down_since,omitempty"`
	NextRetry *time.Time `json:"next_retry,omitempty"`
	Address   string     `json:"address"`

	ViewersByTransport Viewers `json:"viewers_by_transport"`
	// LastFrameAge is seconds since the last frame; -1 before the first.
	LastFrameAge     float64  `json:"last_frame_age"`
	KeyframeInterval float64  `json:"keyframe_interval"` // seconds, measured
	GOPFrames        int      `json:"gop_frames"`
	BFrames          bool     `json:"b_frames"`
	Frames           uint64   `json:"frames"`
	Bytes            uint64   `json:"bytes"`
	PacketsLost      uint64   `json:"packets_lost"`
	DecodeErrors     uint64   `json:"decode_errors"`
	Warnings         []string `json:"warnings"`
}

// SubStream is a camera's sub-stream in the API.
type SubStream struct {
	URL string `json:"url"` // without the password
	StreamStatus
}

// DetectionStats is a camera's recent detections in the API.
type DetectionStats struct {
	Model     string    `json:"model"`
	Last      time.Time `json:"last"`
	PerSecond float64   `json:"per_second"`
	// Latency is the mean seconds from a frame's arrival to its message's.
	Latency float64 `json:"latency"`
}

// Viewers are a camera's viewers by transport.
type Viewers struct {
	WebRTC    int `json:"webrtc"`
	MJPEG     int `json:"mjpeg"`
	WebSocket int `json:"websocket"`
	Frames    int `json:"frames"`
}

// CameraList is the body of GET /api/cameras and of the "cameras" event.
type CameraList struct {
	// Instance names this run of the daemon: it changes at every start,
	// so a page knows that sessions it opened before are gone.
	Instance string   `json:"instance"`
	Cameras  []Camera `json:"cameras"`
	// Time is the box's clock when the list was read: a page whose clock
	// differs counts "offline for" and "next try in" from it.
	Time time.Time `json:"time"`
	// Groups are the configured groups of cameras, in the file's order;
	// empty when there are none.
	Groups []Group `json:"groups"`
}

// Group is a named set of cameras the page can show on their own.
type Group struct {
	Name string `json:"name"`
	// Title is what the page shows; the name when the file gives none.
	Title   string   `json:"title"`
	Cameras []string `json:"cameras"`
}

// cameraOf turns a snapshot into what the API shows.
func cameraOf(c cameras.Snapshot) Camera {
	j := Camera{Name: c.Name, URL: c.URL, OnDemand: c.OnDemand, StreamStatus: StreamStatus{LastFrameAge: -1, Warnings: []string{}}}
	if c.Disabled {
		j.State = "disabled"
		return j
	}
	j.StreamStatus = streamOf(c.Status, c.Viewers)
	if c.Sub != nil {
		j.Sub = &SubStream{URL: c.Sub.URL, StreamStatus: streamOf(c.Sub.Status, c.Sub.Viewers)}
		all := c.Viewers.Plus(c.Sub.Viewers)
		j.ViewersByTransport, j.Viewers = viewersOf(all), all.Total()
	}
	if d := c.Detections; d.Total > 0 {
		j.Detections = &DetectionStats{Model: d.Model, Last: d.Last.UTC(), PerSecond: math.Round(d.PerSecond*10) / 10,
			Latency: math.Round(d.LatencySum/float64(d.LatencyCount)*1000) / 1000}
	}
	return j
}

func viewersOf(v cameras.Viewers) Viewers {
	return Viewers{WebRTC: v.WebRTC, MJPEG: v.MJPEG, WebSocket: v.WebSocket, Frames: v.Frames}
}

// streamOf turns one stream's capture status and viewers into what the API
// shows.
func streamOf(s capture.Status, v cameras.Viewers) StreamStatus {
	j := StreamStatus{LastFrameAge: -1, Warnings: []string{}}
	j.State = string(s.State)
	j.Error = s.LastError
	j.Codec = string(s.Codec)
	j.Width, j.Height = s.Width, s.Height
	j.FPS = math.Round(s.FPS*10) / 10
	j.Bitrate = int64(s.Bitrate)
	j.ViewersByTransport = viewersOf(v)
	j.Viewers = v.Total()
	j.Reconnects = s.Reconnects
	j.Since = s.Since.UTC().Truncate(time.Second)
	j.Reason, j.Address = string(s.Reason), s.Address
	j.DownSince, j.NextRetry = timeOrNil(s.Down), timeOrNil(s.NextRetry)
	if !s.LastFrame.IsZero() {
		j.LastFrameAge = math.Round(time.Since(s.LastFrame).Seconds()*10) / 10
	}
	j.KeyframeInterval = math.Round(s.KeyframeInterval.Seconds()*100) / 100
	j.GOPFrames = s.GOPFrames
	j.BFrames = s.BFrames
	j.Frames, j.Bytes = s.Frames, s.Bytes
	j.PacketsLost, j.DecodeErrors = s.PacketsLost, s.DecodeErrors
	if s.Warnings != nil {
		j.Warnings = s.Warnings
	}
	return j
}

// timeOrNil is t in UTC to the millisecond, or nil for the zero time.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

// cameraList reads every camera of the current set.
func (s *Server) cameraList() CameraList { return listOf(s.Cameras(), s.Instance) }

// listOf reads every camera of set, for the daemon run instance.
func listOf(set *cameras.Set, instance string) CameraList {
	snaps := set.Snapshots()
	out := CameraList{Instance: instance, Cameras: make([]Camera, len(snaps)), Groups: []Group{},
		Time: time.Now().UTC().Truncate(time.Millisecond)}
	for i, c := range snaps {
		out.Cameras[i] = cameraOf(c)
		out.Cameras[i].Title = set.Title(c.Name)
	}
	for _, g := range set.Groups() {
		title := g.Title
		if title == "" {
			title = g.Name
		}
		out.Groups = append(out.Groups, Group{Name: g.Name, Title: title, Cameras: g.Cameras})
	}
	return out
}

// pageList is the camera list the page is served with (web.Config), for
// a request of someone logged in to the page, or of anyone when the
// daemon has no logins; nil for anyone else, whose page then asks
// /api/cameras and is sent to the login.
func (s *Server) pageList(r *http.Request) []byte {
	if !s.Auth().LoggedIn(r) {
		return nil
	}
	b, err := json.Marshal(s.cameraList())
	if err != nil {
		s.Log.Error("camera list for the page", "err", err)
		return nil
	}
	return b
}

func (s *Server) handleCameras(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.cameraList())
}

func (s *Server) handleCamera(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := s.Cameras().Get(name)
	if !ok {
		httpError(w, http.StatusNotFound, "no camera named "+quoteName(name))
		return
	}
	j := cameraOf(c.Snapshot())
	j.Title = s.Cameras().Title(name)
	writeJSON(w, j)
}
