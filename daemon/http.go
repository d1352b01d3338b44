package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/edgecam/edgecam/daemon/web"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/whep"
)

// maxOfferSize bounds a WHEP offer. Browser offers are 3–10 KB.
const maxOfferSize = 64 << 10

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/session", func(w http.ResponseWriter, r *http.Request) { d.auth().handleSession(w, r) })
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) { d.auth().handleLogin(w, r) })
	mux.HandleFunc("POST /api/logout", func(w http.ResponseWriter, r *http.Request) { d.auth().handleLogout(w, r) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /api/cameras", d.handleCameras)
	mux.HandleFunc("GET /api/events", d.handleEvents)
	mux.Handle("GET /metrics", d.metrics.handler())
	mux.HandleFunc("GET /api/cameras/{name}", d.handleCamera)
	mux.HandleFunc("POST /cameras/{name}/whep", d.limited(d.handleWHEPOffer))
	mux.HandleFunc("OPTIONS /cameras/{name}/whep", d.handleWHEPOptions)
	mux.HandleFunc("DELETE /cameras/{name}/whep/{id}", d.handleWHEPDelete)
	mux.HandleFunc("OPTIONS /cameras/{name}/whep/{id}", d.handleWHEPOptions)
	mux.HandleFunc("PATCH /cameras/{name}/whep/{id}", func(w http.ResponseWriter, r *http.Request) {
		// Trickle ICE is optional in WHEP; the answer already holds every candidate.
		allowCORS(w)
		httpError(w, http.StatusMethodNotAllowed, "trickle ICE is not supported: send the offer with all candidates")
	})
	mux.HandleFunc("GET /cameras/{name}/mjpeg", d.limited(d.handleMJPEG))
	mux.HandleFunc("GET /cameras/{name}/ws", d.limited(d.handleWS))
	mux.HandleFunc("GET /cameras/{name}/snapshot.jpg", d.handleSnapshot)
	mux.HandleFunc("GET /cameras/{name}/whep", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "WHEP: POST an SDP offer here")
	})
	mux.Handle("GET /", web.Handler())
	return recoverPanics(d, d.metrics.countRequests(securityHeaders(d.requireLogin(mux))))
}

// requireLogin applies the current authenticator to every request.
func (d *Daemon) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.auth().wrap(next).ServeHTTP(w, r)
	})
}

// limited applies the per-address session rate limit to a handler.
func (d *Daemon) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.sessionLimit.allow(clientIP(r)) {
			w.Header().Set("Retry-After", "30")
			httpError(w, http.StatusTooManyRequests, fmt.Sprintf("more than %d new sessions a minute from this address (http.sessions_per_minute)", d.cfg.HTTP.SessionsPerMinute))
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
func recoverPanics(d *Daemon, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				d.log.Error("http handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				httpError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// CameraJSON is one camera in the API.
type CameraJSON struct {
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	State      string    `json:"state"`
	Error      string    `json:"error"`
	Codec      string    `json:"codec"`
	Width      int       `json:"width"`
	Height     int       `json:"height"`
	FPS        float64   `json:"fps"`
	Bitrate    int64     `json:"bitrate"`
	Viewers    int       `json:"viewers"`
	Reconnects uint64    `json:"reconnects"`
	OnDemand   bool      `json:"on_demand"`
	Since      time.Time `json:"since"`

	ViewersByTransport viewerCounts `json:"viewers_by_transport"`
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

func (d *Daemon) cameraJSON(u *cameraUnit) CameraJSON {
	j := CameraJSON{
		Name:         u.cfg.Name,
		URL:          u.url,
		OnDemand:     u.cfg.OnDemand,
		LastFrameAge: -1,
		Warnings:     []string{},
	}
	if u.cam == nil {
		j.State = "disabled"
		return j
	}
	s := u.cam.Status()
	j.State = string(s.State)
	j.Error = s.LastError
	j.Codec = string(s.Codec)
	j.Width, j.Height = s.Width, s.Height
	j.FPS = math.Round(s.FPS*10) / 10
	j.Bitrate = int64(s.Bitrate)
	j.ViewersByTransport = u.viewers()
	j.Viewers = j.ViewersByTransport.total()
	j.Reconnects = s.Reconnects
	j.Since = s.Since.UTC().Truncate(time.Second)
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

func (d *Daemon) handleCameras(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, d.cameraList())
}

func (d *Daemon) handleCamera(w http.ResponseWriter, r *http.Request) {
	u, ok := d.cameras().byName[r.PathValue("name")]
	if !ok {
		httpError(w, http.StatusNotFound, "no camera named "+quoteName(r.PathValue("name")))
		return
	}
	writeJSON(w, d.cameraJSON(u))
}

func (d *Daemon) handleWHEPOptions(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	w.Header().Set("Accept-Post", "application/sdp")
	w.WriteHeader(http.StatusNoContent)
}

func (d *Daemon) handleWHEPOffer(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	name := r.PathValue("name")
	u, ok := d.cameras().byName[name]
	if !ok {
		httpError(w, http.StatusNotFound, "no camera named "+quoteName(name))
		return
	}
	if u.cam == nil {
		httpError(w, http.StatusNotFound, "camera "+quoteName(name)+" is disabled")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		httpError(w, http.StatusUnsupportedMediaType, "the offer must be sent as Content-Type: application/sdp")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the offer is larger than %d bytes", maxOfferSize))
			return
		}
		httpError(w, http.StatusBadRequest, "reading the offer failed")
		return
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		httpError(w, http.StatusBadRequest, "empty offer")
		return
	}

	answer, id, err := d.rtc.Offer(r.Context(), u.st, string(body))
	switch {
	case err == nil:
	case errors.Is(err, whep.ErrBadOffer):
		httpError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, stream.ErrTooManyReaders), errors.Is(err, whep.ErrTooManySessions):
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	case errors.Is(err, stream.ErrClosed), errors.Is(err, whep.ErrStopped):
		httpError(w, http.StatusServiceUnavailable, "camera is shutting down")
		return
	default:
		d.log.Warn("webrtc offer failed", "camera", name, "error", err)
		httpError(w, http.StatusInternalServerError, "could not start the session")
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/cameras/"+name+"/whep/"+id)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answer)
}

func (d *Daemon) handleWHEPDelete(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	if err := d.rtc.Close(r.PathValue("name"), r.PathValue("id")); err != nil {
		httpError(w, http.StatusNotFound, "no such session")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// allowCORS lets WHEP players served from another origin (a dashboard, a
// test page) use the endpoint, as the WHEP draft expects.
func allowCORS(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS, PATCH")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, Accept-Post")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// quoteName quotes a user-supplied name for a message, cut short so a huge
// path cannot make a huge answer.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
