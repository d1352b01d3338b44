package api

import (
	"net/http"
)

// handleRetry answers POST /api/cameras/{name}/retry: a camera waiting out
// its backoff tries again at once, for an operator who has just plugged its
// cable back in. 204 when a stream of it was waiting (or already
// connecting), 409 when there is nothing to retry.
//
// The camera's capture loop does the retry: the handler only wakes it, so
// no goroutine outlives the request. A cookie-authorized request is
// checked for cross-site origin by the login; this check also covers
// auth: none, where a foreign page could otherwise make a browser on the
// LAN post here.
func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	if err := s.csrf.Check(r); err != nil {
		httpError(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	c := s.camera(w, r)
	if c == nil {
		return
	}
	if !c.RetryNow() {
		httpError(w, http.StatusConflict, "camera "+quoteName(c.Name())+" is not waiting to retry: it streams, or nobody watches it (on demand)")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
