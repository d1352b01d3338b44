// Package api serves edgecam's HTTP interface: the camera list and health,
// WHEP for WebRTC players, the JPEG fallbacks (snapshots, MJPEG, JPEG over a
// WebSocket), Server-Sent Events, the metrics and the page, behind the
// login. Handlers read the current camera set on every request, so a reload
// that swaps it is seen at once.
package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/edgecam/edgecam/daemon/auth"
	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/events"
	"github.com/edgecam/edgecam/daemon/metrics"
	"github.com/edgecam/edgecam/daemon/ratelimit"
	"github.com/edgecam/edgecam/daemon/web"
	"github.com/edgecam/edgecam/stream/whep"
)

// Config is what the API serves from.
type Config struct {
	// Cameras returns the current camera set.
	Cameras func() *cameras.Set
	// WebRTC answers WHEP offers.
	WebRTC *whep.Server
	// Auth returns the current authenticator; a reload may replace it.
	Auth func() *auth.Authenticator
	// Sessions limits new viewer sessions (WHEP, MJPEG, WebSocket) per
	// client address.
	Sessions *ratelimit.Limiter
	// Events carries what /api/events streams; see Feed.
	Events *events.Bus
	// Metrics serves /metrics and counts every request.
	Metrics *metrics.Metrics
	// Quit is closed when the daemon starts to stop, which ends the
	// long-lived event streams.
	Quit <-chan struct{}
	// Log receives what goes wrong in handlers.
	Log *slog.Logger
	// Instance names this run of the daemon (CameraList.Instance).
	Instance string
}

// Server is the HTTP API. Create it with New and serve Handler.
type Server struct {
	Config
	detectionLimit *ratelimit.Limiter
	csrf           *http.CrossOriginProtection // for writes that need it with any auth mode
}

// New returns the API for c.
func New(c Config) *Server {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{Config: c, detectionLimit: ratelimit.New(detectionsPerSecond, time.Second), csrf: http.NewCrossOriginProtection()}
}

// Handler routes every request, behind the login, with the security
// headers, request counting and panic recovery every response gets.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/session", func(w http.ResponseWriter, r *http.Request) { s.Auth().HandleSession(w, r) })
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) { s.Auth().HandleLogin(w, r) })
	mux.HandleFunc("POST /api/logout", func(w http.ResponseWriter, r *http.Request) { s.Auth().HandleLogout(w, r) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /api/cameras", s.handleCameras)
	mux.HandleFunc("GET /api/cameras/{name}", s.handleCamera)
	mux.HandleFunc("POST /api/cameras/{name}/retry", s.handleRetry)
	mux.HandleFunc("GET /api/events", s.limited(held(s.handleEvents)))
	mux.Handle("GET /metrics", s.Metrics.Handler())
	s.whepRoutes(mux)
	mux.HandleFunc("GET /cameras/{name}/mjpeg", s.limited(held(s.handleMJPEG)))
	mux.HandleFunc("GET /cameras/{name}/ws", s.limited(held(s.handleWS)))
	mux.HandleFunc("GET /cameras/{name}/snapshot.jpg", s.handleSnapshot)
	mux.HandleFunc("GET /cameras/{name}/frames", s.limited(held(s.handleFrames)))
	mux.HandleFunc("POST /cameras/{name}/detections", s.handleDetections)
	mux.Handle("GET /", web.Handler(web.Config{CameraList: s.pageList}))
	return s.recoverPanics(s.Metrics.CountRequests(securityHeaders(s.requireLogin(mux))))
}

// requireLogin applies the current authenticator to every request.
func (s *Server) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Auth().Require(next).ServeHTTP(w, r)
	})
}

// held lifts the server's deadline on reading the request for an answer
// that stays open (events, MJPEG, WebSockets): the request is read, and
// the connection's reads now only tell when the client goes.
func held(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		h(w, r)
	}
}

// limited applies the per-address session rate limit to a handler.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.Sessions.Allow(ratelimit.ClientAddr(r)) {
			w.Header().Set("Retry-After", "30")
			httpError(w, http.StatusTooManyRequests, fmt.Sprintf("more than %d new sessions a minute from this address (http.sessions_per_minute)", s.Sessions.Limit()))
			return
		}
		h(w, r)
	}
}

// securityHeaders go on every response; the page's own files add a
// Content-Security-Policy on top.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a handler panic into a 500 and a log line instead of a
// dropped connection; the daemon keeps serving everyone else.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("http handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				httpError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// camera finds the camera a request names and answers 404 itself when
// there is none or it is disabled.
func (s *Server) camera(w http.ResponseWriter, r *http.Request) *cameras.Camera {
	name := r.PathValue("name")
	c, ok := s.Cameras().Get(name)
	switch {
	case !ok:
		httpError(w, http.StatusNotFound, "no camera named "+quoteName(name))
		return nil
	case c.Disabled():
		httpError(w, http.StatusNotFound, "camera "+quoteName(name)+" is disabled")
		return nil
	}
	return c
}

// feed finds the camera and the stream (?stream=main|sub, main by default)
// a request names, and answers the error itself when there is none: 400
// for a value that is not a stream, 404 for a camera without a sub-stream.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) (*cameras.Camera, *cameras.Feed) {
	c, f, status, msg := s.feedOf(r.PathValue("name"), r.URL.Query().Get("stream"))
	if c == nil {
		httpError(w, status, msg)
		return nil, nil
	}
	return c, f
}

// feedOf finds a camera's stream by name ("" is main); when there is none
// it returns the status and message to answer instead.
func (s *Server) feedOf(camera, stream string) (*cameras.Camera, *cameras.Feed, int, string) {
	c, ok := s.Cameras().Get(camera)
	switch {
	case !ok:
		return nil, nil, http.StatusNotFound, "no camera named " + quoteName(camera)
	case c.Disabled():
		return nil, nil, http.StatusNotFound, "camera " + quoteName(camera) + " is disabled"
	}
	name, err := cameras.ParseStream(stream)
	if err != nil {
		return nil, nil, http.StatusBadRequest, err.Error()
	}
	f, ok := c.Feed(name)
	if !ok {
		return nil, nil, http.StatusNotFound, "camera " + quoteName(c.Name()) + " has no " + string(name) + " stream"
	}
	return c, f, 0, ""
}
