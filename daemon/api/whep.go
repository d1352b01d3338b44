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

	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/whep"
)

// maxOfferSize bounds a WHEP offer. Browser offers are 3–10 KB.
const maxOfferSize = 64 << 10

func (s *Server) whepRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /cameras/{name}/whep", s.limited(s.handleWHEPOffer))
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
	answer, id, err := s.WebRTC.Offer(r.Context(), f.Stream(), offer, opts...)
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
		s.Log.Warn("webrtc offer failed", "camera", c.Name(), "stream", f.Name(), "error", err)
		httpError(w, http.StatusInternalServerError, "could not start the session")
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/cameras/"+c.Name()+"/whep/"+id)
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
	h.Set("Access-Control-Expose-Headers", "Location, Accept-Post")
}
