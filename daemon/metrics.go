package daemon

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgecam/edgecam/capture"
)

// metrics is the daemon's Prometheus registry. Camera figures are read from
// the cameras' status at scrape time, so the video path pays nothing for
// them.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgecam_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "edgecam_build_info",
		Help:        "Always 1; the labels say which edgecam runs.",
		ConstLabels: prometheus.Labels{"version": d.opts.Version, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests,
		build,
		&cameraCollector{d: d},
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// countRequests records each request under its route pattern, never its
// raw path: camera names and session ids would make the label set unbounded.
func (m *metrics) countRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "none"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
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

var (
	descUp = prometheus.NewDesc("edgecam_camera_up",
		"1 while frames flow from the camera, 0 otherwise (connecting, retrying, stale, unsupported, idle).", []string{"camera"}, nil)
	descState = prometheus.NewDesc("edgecam_camera_state",
		"1 for the camera's current state.", []string{"camera", "state"}, nil)
	descFrames = prometheus.NewDesc("edgecam_camera_frames_received_total",
		"H.264 access units received from the camera.", []string{"camera"}, nil)
	descBytes = prometheus.NewDesc("edgecam_camera_bytes_received_total",
		"Bytes of H.264 received from the camera.", []string{"camera"}, nil)
	descFPS = prometheus.NewDesc("edgecam_camera_fps",
		"Frames per second received, measured over the last second.", []string{"camera"}, nil)
	descBitrate = prometheus.NewDesc("edgecam_camera_bitrate_bits_per_second",
		"Video bitrate received, measured over the last second.", []string{"camera"}, nil)
	descKeyframe = prometheus.NewDesc("edgecam_camera_keyframe_interval_seconds",
		"Measured time between the last two keyframes (IDR).", []string{"camera"}, nil)
	descAge = prometheus.NewDesc("edgecam_camera_last_frame_age_seconds",
		"Seconds since the last frame arrived (absent before the first).", []string{"camera"}, nil)
	descLost = prometheus.NewDesc("edgecam_camera_rtp_packets_lost_total",
		"RTP packets the camera sent that never arrived.", []string{"camera"}, nil)
	descReconnects = prometheus.NewDesc("edgecam_camera_reconnects_total",
		"RTSP sessions started after the first.", []string{"camera"}, nil)
	descDecodeErrors = prometheus.NewDesc("edgecam_camera_decode_errors_total",
		"Frames dropped because their RTP packets were broken.", []string{"camera"}, nil)
	descViewers = prometheus.NewDesc("edgecam_camera_viewers",
		"Viewers connected now, by transport.", []string{"camera", "transport"}, nil)
	descWarnings = prometheus.NewDesc("edgecam_camera_warnings",
		"Number of reasons the stream will play badly (B-frames, long GOP, bitrate).", []string{"camera"}, nil)
	descSessions = prometheus.NewDesc("edgecam_webrtc_sessions",
		"WebRTC sessions open now.", nil, nil)
	descDecoders = prometheus.NewDesc("edgecam_jpeg_decoders",
		"ffmpeg JPEG decoders running now.", nil, nil)
	descRestarts = prometheus.NewDesc("edgecam_ffmpeg_restarts_total",
		"ffmpeg restarts after a crash or hang.", nil, nil)
)

var cameraStates = []capture.State{
	capture.StateIdle, capture.StateConnecting, capture.StateStreaming, capture.StateStale,
	capture.StateRetrying, capture.StateUnsupported,
}

// cameraCollector reads every camera's status when Prometheus scrapes.
type cameraCollector struct{ d *Daemon }

func (c *cameraCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descState, descFrames, descBytes, descFPS, descBitrate,
		descKeyframe, descAge, descLost, descReconnects, descDecodeErrors, descViewers, descWarnings,
		descSessions, descDecoders, descRestarts} {
		ch <- d
	}
}

func (c *cameraCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	decoders, restarts := 0, uint64(0)
	now := time.Now()
	for _, u := range c.d.cameras().list {
		if u.cam == nil {
			continue
		}
		name := u.cfg.Name
		s := u.cam.Status()
		up := 0.0
		if s.State == capture.StateStreaming {
			up = 1
		}
		gauge(descUp, up, name)
		for _, st := range cameraStates {
			v := 0.0
			if s.State == st {
				v = 1
			}
			gauge(descState, v, name, string(st))
		}
		counter(descFrames, float64(s.Frames), name)
		counter(descBytes, float64(s.Bytes), name)
		gauge(descFPS, s.FPS, name)
		gauge(descBitrate, s.Bitrate, name)
		gauge(descKeyframe, s.KeyframeInterval.Seconds(), name)
		if !s.LastFrame.IsZero() {
			gauge(descAge, now.Sub(s.LastFrame).Seconds(), name)
		}
		counter(descLost, float64(s.PacketsLost), name)
		counter(descReconnects, float64(s.Reconnects), name)
		counter(descDecodeErrors, float64(s.DecodeErrors), name)
		gauge(descWarnings, float64(len(s.Warnings)), name)
		v := u.viewers()
		gauge(descViewers, float64(v.WebRTC), name, "webrtc")
		gauge(descViewers, float64(v.MJPEG), name, "mjpeg")
		gauge(descViewers, float64(v.WebSocket), name, "websocket")
		js := u.jpeg.Stats()
		decoders += js.Decoders
		restarts += js.Restarts
	}
	sessions := 0
	if c.d.rtc != nil {
		sessions = c.d.rtc.Sessions()
	}
	gauge(descSessions, float64(sessions))
	gauge(descDecoders, float64(decoders))
	counter(descRestarts, float64(restarts))
}
