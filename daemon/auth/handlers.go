package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/ratelimit"
)

// HandleSession tells the page whether it must show the login form.
func (a *Authenticator) HandleSession(w http.ResponseWriter, r *http.Request) {
	user := ""
	if a.mode != config.AuthNone {
		user, _, _ = a.identify(r)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"auth": a.mode, "user": user, "logged_in": a.mode == config.AuthNone || user != ""})
}

// HandleLogin checks a user name and password posted as JSON or as a form
// and sets the session cookie.
func (a *Authenticator) HandleLogin(w http.ResponseWriter, r *http.Request) {
	if a.mode == config.AuthNone {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// A foreign page must not log the browser in as someone else (login
	// CSRF): only the page itself posts here.
	if a.csrf.Check(r) != nil {
		reply(w, http.StatusForbidden, "cross-site login refused")
		return
	}
	var creds struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	// Capped before anything reads it: ParseForm alone would read up to
	// 10 MB.
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&creds); err != nil {
			loginBodyError(w, err, "send JSON {\"user\": …, \"password\": …}")
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			loginBodyError(w, err, "send a form with user and password")
			return
		}
		creds.User, creds.Password = r.PostForm.Get("user"), r.PostForm.Get("password")
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		loginBodyError(w, err, "bad login body")
		return
	}
	ip := ratelimit.ClientAddr(r)
	settle, err := a.attempt(ip)
	if err != nil {
		refuse(w, err)
		return
	}
	ok := false
	if creds.User != "" {
		if ok, err = a.checkPassword(creds.User, creds.Password); err != nil {
			a.failures.Undo(ip)
			refuse(w, err)
			return
		}
	}
	settle(ok)
	if !ok {
		reply(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    a.newSession(creds.User),
		Path:     "/",
		HttpOnly: true,
		Secure:   a.secure,
		SameSite: http.SameSiteStrictMode,
	})
	w.WriteHeader(http.StatusNoContent)
}

// HandleLogout ends the request's page login.
func (a *Authenticator) HandleLogout(w http.ResponseWriter, r *http.Request) {
	if a.csrf.Check(r) != nil {
		reply(w, http.StatusForbidden, "cross-site logout refused")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// reply answers a plain-text message.
func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// maxLoginBody is the most a login's body may hold: a name and a password.
const maxLoginBody = 4096

func loginBodyError(w http.ResponseWriter, err error, what string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a login is at most %d bytes", maxLoginBody))
		return
	}
	reply(w, http.StatusBadRequest, what)
}
