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

// HandleSession tells the page whether it must show the login form, who
// is logged in, and why a page login is missing or was refused.
func (a *Authenticator) HandleSession(w http.ResponseWriter, r *http.Request) {
	var id identity
	if a.mode != config.AuthNone {
		id, _ = a.identify(r)
	}
	if id.renew != nil {
		http.SetCookie(w, id.renew)
	}
	answer := map[string]any{"auth": a.mode, "user": id.name, "logged_in": a.mode == config.AuthNone || id.name != ""}
	if a.mode != config.AuthNone && id.name == "" {
		answer["reason"] = id.why
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(answer)
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
	settle, err := a.attempt(ratelimit.ClientAddr(r), creds.User)
	if err != nil {
		refuse(w, err)
		return
	}
	ok := false
	if creds.User != "" {
		if ok, err = a.checkPassword(creds.User, creds.Password); err != nil {
			settle(false) // not checked: not a failure
			refuse(w, err)
			return
		}
	}
	settle(!ok)
	if !ok {
		reply(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	http.SetCookie(w, a.newLogin(creds.User))
	w.WriteHeader(http.StatusNoContent)
}

// HandleLogout ends the request's page login by removing its cookie from
// the browser. The login is signed, not stored, so a copy of the cookie
// taken earlier stays valid until it expires; changing the user's password
// or the key ends every copy.
func (a *Authenticator) HandleLogout(w http.ResponseWriter, r *http.Request) {
	if a.csrf.Check(r) != nil {
		reply(w, http.StatusForbidden, "cross-site logout refused")
		return
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
