// Package metrics serves /metrics in the Prometheus text format: every
// camera's health and counters, the daemon's, Go's and the process's. Camera
// figures are read from a snapshot at scrape time, so the video path pays
// nothing for them, and HTTP requests are counted by route.
package metrics

import (
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/detections"
	"github.com/edgecam/edgecam/daemon/promtext"
)

// Snapshot is what one scrape reports.
type Snapshot struct {
	Cameras []cameras.Snapshot
	// WebRTCSessions is the number of WebRTC sessions open now.
	WebRTCSessions int
	// RetiredFFmpegRestarts counts the ffmpeg restarts of cameras that a
	// reload stopped, so that the total never goes down.
	RetiredFFmpegRestarts uint64
}

// Metrics serves /metrics and counts requests. Its methods are safe for
// concurrent use.
type Metrics struct {
	version  string
	snapshot func() Snapshot

	mu       sync.Mutex
	requests map[requestKey]uint64
}

type requestKey struct {
	route string
	code  int
}

// New returns Metrics that read what they report from snapshot at every
// scrape; version labels edgecam_build_info.
func New(version string, snapshot func() Snapshot) *Metrics {
	return &Metrics{version: version, snapshot: snapshot, requests: make(map[requestKey]uint64)}
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", promtext.ContentType)
		pw := promtext.NewWriter(w)
		m.write(pw)
		writeRuntime(pw, w)
	})
}

// CountRequests records each request under its route pattern, never its
// raw path: camera names and session ids would make the label set unbounded.
func (m *Metrics) CountRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "none"
		}
		m.mu.Lock()
		m.requests[requestKey{route, rec.code}]++
		m.mu.Unlock()
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline of
// the real writer (MJPEG), and websocket.Accept its Hijack.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// write writes the cameras' and the daemon's series; writeRuntime adds Go's
// and the process's.
func (m *Metrics) write(w *promtext.Writer) {
	snap := m.snapshot()
	var fs promtext.Families
	decoders, restarts := 0, snap.RetiredFFmpegRestarts
	now := time.Now()
	for _, c := range snap.Cameras {
		if c.Disabled {
			continue
		}
		addCamera(&fs, c, now)
		decoders += c.JPEG.Decoders
		restarts += c.JPEG.Restarts
		if c.Sub != nil {
			decoders += c.Sub.JPEG.Decoders
			restarts += c.Sub.JPEG.Restarts
		}
	}
	fs.Add("edgecam_webrtc_sessions", gauge, "WebRTC sessions open now.", float64(snap.WebRTCSessions))
	fs.Add("edgecam_jpeg_decoders", gauge, "ffmpeg JPEG decoders running now.", float64(decoders))
	fs.Add("edgecam_ffmpeg_restarts_total", counter, "ffmpeg restarts after a crash or hang.", float64(restarts))
	fs.Add("edgecam_build_info", gauge, "Always 1; the labels say which edgecam runs.", 1,
		"goversion", runtime.Version(), "version", m.version)

	// Only the counting is under the lock: writing goes at the scraper's
	// pace, and every request's counting waits for this lock.
	m.mu.Lock()
	for k, n := range m.requests {
		fs.Add("edgecam_http_requests_total", counter, "HTTP requests by route pattern and status code.", float64(n), "code", strconv.Itoa(k.code), "route", k.route)
	}
	m.mu.Unlock()
	fs.Write(w)
}

const gauge, counter = promtext.Gauge, promtext.Counter

// addCamera adds one camera's series: those of its main stream, of its
// sub-stream if it has one, and its detections.
func addCamera(fs *promtext.Families, c cameras.Snapshot, now time.Time) {
	addStream(fs, c.Name, string(cameras.Main), c.Status, c.Viewers, now)
	if c.Sub != nil {
		addStream(fs, c.Name, string(cameras.Sub), c.Sub.Status, c.Sub.Viewers, now)
	}
	addDetections(fs, c.Name, c.Detections)
}

// addStream adds the series of one of a camera's streams, labelled
// stream="main" or "sub".
func addStream(fs *promtext.Families, name, stream string, s capture.Status, v cameras.Viewers, now time.Time) {
	fs.Add("edgecam_camera_up", gauge, "1 while frames flow from the camera, 0 otherwise (connecting, retrying, stale, unsupported, idle).",
		bool01(s.State == capture.StateStreaming), "camera", name, "stream", stream)
	for _, st := range capture.States() {
		fs.Add("edgecam_camera_state", gauge, "1 for the camera's current state.", bool01(s.State == st), "camera", name, "state", string(st), "stream", stream)
	}
	if s.Codec != "" {
		fs.Add("edgecam_camera_info", gauge, "1, with the codec the stream is pulled in (H264 or H265) as a label; absent before its first session.", 1, "camera", name, "stream", stream, "codec", string(s.Codec))
	}
	fs.Add("edgecam_camera_frames_received_total", counter, "Access units (H.264 or H.265) received from the camera.", float64(s.Frames), "camera", name, "stream", stream)
	fs.Add("edgecam_camera_bytes_received_total", counter, "Bytes of video received from the camera.", float64(s.Bytes), "camera", name, "stream", stream)
	fs.Add("edgecam_camera_fps", gauge, "Frames per second received, measured over the last second.", s.FPS, "camera", name, "stream", stream)
	fs.Add("edgecam_camera_bitrate_bits_per_second", gauge, "Video bitrate received, measured over the last second.", s.Bitrate, "camera", name, "stream", stream)
	fs.Add("edgecam_camera_keyframe_interval_seconds", gauge, "Measured time between the last two keyframes (IDR).", s.KeyframeInterval.Seconds(), "camera", name, "stream", stream)
	if !s.LastFrame.IsZero() {
		fs.Add("edgecam_camera_last_frame_age_seconds", gauge, "Seconds since the last frame arrived (absent before the first).", now.Sub(s.LastFrame).Seconds(), "camera", name, "stream", stream)
	}
	fs.Add("edgecam_camera_rtp_packets_lost_total", counter, "RTP packets the camera sent that never arrived.", float64(s.PacketsLost), "camera", name, "stream", stream)
	fs.Add("edgecam_camera_reconnects_total", counter, "RTSP sessions started after the first.", float64(s.Reconnects), "camera", name, "stream", stream)
	fs.Add("edgecam_camera_decode_errors_total", counter, "Frames dropped because their RTP packets were broken.", float64(s.DecodeErrors), "camera", name, "stream", stream)
	for _, t := range []struct {
		transport string
		n         int
	}{{"webrtc", v.WebRTC}, {"mjpeg", v.MJPEG}, {"websocket", v.WebSocket}, {"frames", v.Frames}} {
		fs.Add("edgecam_camera_viewers", gauge, "Viewers connected now, by transport.", float64(t.n), "camera", name, "stream", stream, "transport", t.transport)
	}
	fs.Add("edgecam_camera_warnings", gauge, "Number of reasons the stream will play badly (B-frames, long GOP, bitrate).", float64(len(s.Warnings)), "camera", name, "stream", stream)
}

// addDetections adds a camera's detection series.
func addDetections(fs *promtext.Families, camera string, d detections.Stats) {
	labels := make([]string, 0, len(d.Labels))
	for l := range d.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		fs.Add("edgecam_detections_total", counter, "Objects that models found in the camera's frames, by label (at most 64 labels a camera; the rest count as \"other\").",
			float64(d.Labels[l]), "camera", camera, "label", l)
	}
	fs.Add("edgecam_detection_messages_total", counter, "Detection messages models sent for the camera.", float64(d.Total), "camera", camera)
	fs.AddSummary("edgecam_detection_latency_seconds", "Seconds from a frame's arrival from the camera to a model's detections of it.",
		d.LatencySum, d.LatencyCount, "camera", camera)
}
