package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/whep"
)

// maxOfferSize bounds a WHEP offer. Browser offers are 3–10 KB.
const maxOfferSize = 64 << 10

func (s *Server) whepRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /cameras/{name}/whep", s.limited(s.handleWHEPOffer))
	mux.HandleFunc("POST /whep", s.limited(s.handleWHEPWall))
	mux.HandleFunc("OPTIONS /whep", handleWHEPOptions)
	mux.HandleFunc("OPTIONS /cameras/{name}/whep", handleWHEPOptions)
	mux.HandleFunc("DELETE /cameras/{name}/whep/{id}", s.handleWHEPDelete)
	mux.HandleFunc("OPTIONS /cameras/{name}/whep/{id}", handleWHEPOptions)
	mux.HandleFunc("PATCH /cameras/{name}/whep/{id}", func(w http.ResponseWriter, r *http.Request) {
		// Trickle ICE is optional in WHEP; the answer already holds every candidate.
		allowCORS(w)
		httpError(w, http.StatusMethodNotAllowed, "trickle ICE is not supported: send the offer with all candidates")
	})
	mux.HandleFunc("GET /cameras/{name}/whep", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "WHEP: POST an SDP offer here")
	})
}

func handleWHEPOptions(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	w.Header().Set("Accept-Post", "application/sdp")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWHEPOffer(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	c, f := s.feed(w, r)
	if c == nil {
		return
	}
	s.answerOffer(w, r, []*cameras.Feed{f})
}

// handleWHEPWall answers one offer for several cameras, a video section
// each in the order of ?camera=: a wall of cameras in one browser then has
// one peer connection and one handshake instead of one per camera.
// ?stream= is given once for all of them or once per camera.
func (s *Server) handleWHEPWall(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	q := r.URL.Query()
	names, streams := q["camera"], q["stream"]
	switch {
	case len(names) == 0:
		httpError(w, http.StatusBadRequest, "name the cameras: ?camera=NAME, once per video section of the offer")
		return
	case len(names) > whep.MaxStreamsPerPeer:
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%d cameras, at most %d in one session", len(names), whep.MaxStreamsPerPeer))
		return
	case len(streams) > 1 && len(streams) != len(names):
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%d streams for %d cameras: give ?stream= once, or once per camera", len(streams), len(names)))
		return
	}
	feeds := make([]*cameras.Feed, len(names))
	for i, name := range names {
		stream := ""
		if len(streams) == 1 {
			stream = streams[0]
		} else if len(streams) > 1 {
			stream = streams[i]
		}
		c, f, status, msg := s.feedOf(name, stream)
		if c == nil {
			httpError(w, status, msg)
			return
		}
		feeds[i] = f
	}
	s.answerOffer(w, r, feeds)
}

// answerOffer reads a WHEP offer and answers it with a session per feed,
// in one peer connection. One session's URL
// is the answer's Location; several are listed in order in its
// Edgecam-Sessions header.
func (s *Server) answerOffer(w http.ResponseWriter, r *http.Request, feeds []*cameras.Feed) {
	began := time.Now()
	start, err := whep.ParseStart(r.URL.Query().Get("start"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	offer, ok := readOffer(w, r)
	if !ok {
		return
	}
	opts := []whep.OfferOption{whep.WithStart(start)}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			opts = append(opts, whep.ReachedAt(ap.Addr()))
		}
	}
	sts := make([]*stream.Stream, len(feeds))
	names := make([]string, len(feeds)) // a feed's stream is named for its camera
	for i, f := range feeds {
		sts[i] = f.Stream()
		names[i] = sts[i].Name()
	}
	answer, ids, err := s.WebRTC.OfferMany(r.Context(), sts, offer, opts...)
	var codecErr *whep.CodecError
	switch {
	case err == nil:
	case errors.As(err, &codecErr):
		// The page tells this from other refusals by its status and shows
		// the camera over JPEG, with the message, instead.
		httpError(w, http.StatusNotAcceptable, err.Error())
		return
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
		s.Log.Warn("webrtc offer failed", "cameras", strings.Join(names, ","), "error", err)
		httpError(w, http.StatusInternalServerError, "could not start the session")
		return
	}
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = "/cameras/" + names[i] + "/whep/" + id
	}
	w.Header().Set("Content-Type", "application/sdp")
	// What the answer cost here, apart from the network and the browser
	// (docs/performance.md reads it from the page's resource timing).
	w.Header().Set("Server-Timing", fmt.Sprintf("answer;dur=%.1f", time.Since(began).Seconds()*1000))
	if len(urls) == 1 {
		w.Header().Set("Location", urls[0])
	} else {
		w.Header().Set("Edgecam-Sessions", strings.Join(urls, ", "))
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// readOffer reads a WHEP offer's body, answering the error itself when it
// is not one.
func readOffer(w http.ResponseWriter, r *http.Request) (string, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		httpError(w, http.StatusUnsupportedMediaType, "the offer must be sent as Content-Type: application/sdp")
		return "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the offer is larger than %d bytes", maxOfferSize))
			return "", false
		}
		httpError(w, http.StatusBadRequest, "reading the offer failed")
		return "", false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		httpError(w, http.StatusBadRequest, "empty offer")
		return "", false
	}
	return string(body), true
}

func (s *Server) handleWHEPDelete(w http.ResponseWriter, r *http.Request) {
	allowCORS(w)
	if err := s.WebRTC.Close(r.PathValue("name"), r.PathValue("id")); err != nil {
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
	h.Set("Access-Control-Expose-Headers", "Location, Accept-Post, Edgecam-Sessions")
}
