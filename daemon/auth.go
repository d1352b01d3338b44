package daemon

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/daemon/config"
)

const (
	sessionCookie = "edgecam_session"
	// maxSessions bounds the login table so a flood of logins cannot grow
	// memory without end; the oldest session is dropped first.
	maxSessions = 1024
	// basicCacheTTL spares a bcrypt per request for scripts that send Basic
	// credentials on every call (bcrypt costs tens of ms on a board).
	basicCacheTTL = 5 * time.Minute
	// loginFailuresPerMinute slows password guessing from one address.
	loginFailuresPerMinute = 10
)

// authenticator decides who may use the API and the streams.
type authenticator struct {
	conf   config.Auth // as configured, to notice changes on reload
	mode   string
	users  map[string][]byte   // name → bcrypt hash
	tokens map[[32]byte]string // SHA-256 of the token → name
	ttl    time.Duration
	secure bool // cookies only over TLS

	mu       sync.Mutex
	sessions map[string]*loginSession
	verified map[[32]byte]time.Time // SHA-256 of "user\x00password" → valid until
	failures *rateLimiter
}

type loginSession struct {
	user    string
	expires time.Time
}

func newAuthenticator(cfg *config.Config) *authenticator {
	a := &authenticator{
		conf:     cfg.Auth,
		mode:     cfg.Auth.EffectiveMode(cfg.HTTP.Listen),
		users:    make(map[string][]byte),
		tokens:   make(map[[32]byte]string),
		ttl:      cfg.Auth.SessionTTL.D(),
		secure:   cfg.HTTP.TLS.Cert != "",
		sessions: make(map[string]*loginSession),
		verified: make(map[[32]byte]time.Time),
		failures: newRateLimiter(loginFailuresPerMinute, time.Minute),
	}
	if a.ttl <= 0 {
		a.ttl = 12 * time.Hour
	}
	for _, u := range cfg.Auth.Users {
		a.users[u.Name] = []byte(u.PasswordHash)
	}
	for _, t := range cfg.Auth.Tokens {
		var h [32]byte
		if b, err := hex.DecodeString(t.SHA256); err == nil && len(b) == 32 {
			copy(h[:], b)
			a.tokens[h] = t.Name
		}
	}
	return a
}

// adoptSessions keeps the page logins of old whose users still exist, so a
// reload that adds a user does not log everyone out.
func (a *authenticator) adoptSessions(old *authenticator) {
	old.mu.Lock()
	defer old.mu.Unlock()
	for id, s := range old.sessions {
		if _, ok := a.users[s.user]; ok {
			a.sessions[id] = &loginSession{user: s.user, expires: s.expires}
		}
	}
}

// public reports whether a request needs no login: the page's own files
// (they hold no data), the login itself, health checks and CORS preflights.
func public(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/healthz", p == "/api/session", p == "/api/login", p == "/api/logout":
		return true
	case r.Method == http.MethodOptions:
		return true
	case strings.HasPrefix(p, "/api/"), strings.HasPrefix(p, "/cameras/"), p == "/metrics":
		return false
	}
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

func (a *authenticator) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.mode == config.AuthNone || public(r) || a.identify(r) != "" {
			next.ServeHTTP(w, r)
			return
		}
		// Scripts, ffmpeg and OpenCV need the Basic challenge to send the
		// credentials from their URL. The page's own requests (fetch,
		// EventSource, img, WebSocket) must not get it: the browser would
		// pop up its password dialog, or hold an EventSource waiting for
		// one. Browsers mark those with Sec-Fetch-Mode; the page also
		// sends X-Requested-With.
		mode := r.Header.Get("Sec-Fetch-Mode")
		if r.Header.Get("X-Requested-With") == "" && (mode == "" || mode == "navigate") {
			w.Header().Set("WWW-Authenticate", `Basic realm="edgecam", charset="UTF-8"`)
		}
		httpError(w, http.StatusUnauthorized, "log in first: use the page's login, HTTP Basic, or a bearer token")
	})
}

// identify returns the user or token name behind a request, or "".
func (a *authenticator) identify(r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if u := a.session(c.Value); u != "" {
			return u
		}
	}
	if token := bearer(r); token != "" {
		return a.tokens[sha256.Sum256([]byte(token))]
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if a.checkPassword(user, pass) {
			return user
		}
	}
	return ""
}

func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	// For clients that cannot set headers: a dashboard's <img src>, a
	// WHEP player configured with a URL only.
	return r.URL.Query().Get("access_token")
}

func (a *authenticator) checkPassword(user, pass string) bool {
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	now := time.Now()
	a.mu.Lock()
	until, ok := a.verified[key]
	a.mu.Unlock()
	if ok && now.Before(until) {
		return true
	}
	hash, ok := a.users[user]
	if !ok {
		// Spend the same time as a real check so user names cannot be
		// probed by timing.
		for _, h := range a.users {
			_ = bcrypt.CompareHashAndPassword(h, []byte(pass))
			break
		}
		return false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	a.mu.Lock()
	if len(a.verified) > maxSessions {
		clear(a.verified)
	}
	a.verified[key] = now.Add(basicCacheTTL)
	a.mu.Unlock()
	return true
}

func (a *authenticator) session(id string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return ""
	}
	now := time.Now()
	if now.After(s.expires) {
		delete(a.sessions, id)
		return ""
	}
	s.expires = now.Add(a.ttl) // sliding: a control room stays logged in
	return s.user
}

func (a *authenticator) newSession(user string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxSessions {
		var oldest string
		var at time.Time
		for k, s := range a.sessions {
			if oldest == "" || s.expires.Before(at) {
				oldest, at = k, s.expires
			}
		}
		delete(a.sessions, oldest)
	}
	a.sessions[id] = &loginSession{user: user, expires: time.Now().Add(a.ttl)}
	return id
}

// handleSession tells the page whether it must show the login form.
func (a *authenticator) handleSession(w http.ResponseWriter, r *http.Request) {
	user := ""
	if a.mode != config.AuthNone {
		user = a.identify(r)
	}
	writeJSON(w, map[string]any{"auth": a.mode, "user": user, "logged_in": a.mode == config.AuthNone || user != ""})
}

func (a *authenticator) handleLogin(w http.ResponseWriter, r *http.Request) {
	if a.mode == config.AuthNone {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ip := clientIP(r)
	if !a.failures.allowPeek(ip) {
		w.Header().Set("Retry-After", "60")
		httpError(w, http.StatusTooManyRequests, "too many failed logins from this address; wait a minute")
		return
	}
	var creds struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	body := http.MaxBytesReader(w, r.Body, 4096)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(body).Decode(&creds); err != nil {
			httpError(w, http.StatusBadRequest, "send JSON {\"user\": …, \"password\": …}")
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			httpError(w, http.StatusBadRequest, "bad form")
			return
		}
		creds.User, creds.Password = r.PostForm.Get("user"), r.PostForm.Get("password")
	}
	_, _ = io.Copy(io.Discard, body)
	if creds.User == "" || !a.checkPassword(creds.User, creds.Password) {
		a.failures.allow(ip)
		httpError(w, http.StatusUnauthorized, "wrong user name or password")
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

func (a *authenticator) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// clientIP is the request's remote address without the port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimiter allows n events per window per key. Keys are client
// addresses; the table is pruned as it is used, so it stays small.
type rateLimiter struct {
	n      int
	window time.Duration

	mu   sync.Mutex
	seen map[string][]time.Time
}

func newRateLimiter(n int, window time.Duration) *rateLimiter {
	return &rateLimiter{n: n, window: window, seen: make(map[string][]time.Time)}
}

// allow records an event for key and reports whether it is within the limit.
func (l *rateLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	ts := l.recent(key, now)
	if len(ts) >= l.n {
		l.seen[key] = ts
		return false
	}
	l.seen[key] = append(ts, now)
	return true
}

// allowPeek reports whether an event would be allowed, without recording one.
func (l *rateLimiter) allowPeek(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.recent(key, time.Now())
	l.seen[key] = ts
	return len(ts) < l.n
}

func (l *rateLimiter) recent(key string, now time.Time) []time.Time {
	if len(l.seen) > 4096 {
		for k, ts := range l.seen {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) > l.window {
				delete(l.seen, k)
			}
		}
	}
	ts := l.seen[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	return ts[i:]
}
