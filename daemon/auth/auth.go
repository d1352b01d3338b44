// Package auth decides who may use edgecam's API and streams: page logins
// kept as cookie sessions, HTTP Basic for scripts and players, and bearer
// tokens. It slows down password guessing per client address and never
// logs or answers a password.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/ratelimit"
)

// DefaultSessionTTL is how long a page login lasts without activity when
// Config.SessionTTL is zero: long, since a wall screen in a control room
// runs unattended for weeks.
const DefaultSessionTTL = 30 * 24 * time.Hour

const (
	sessionCookie = "edgecam_session"
	// maxVerified bounds the cache of verified Basic credentials.
	maxVerified = 1024
	// basicCacheTTL spares a bcrypt per request for scripts that send Basic
	// credentials on every call (bcrypt costs tens of ms on a board).
	basicCacheTTL = 5 * time.Minute
	// FailedLoginsPerUser slows guessing one user's password from one
	// address; other users behind the same address can still log in.
	FailedLoginsPerUser = 10
	// FailedLoginsPerAddress slows guessing many user names from one
	// address. It is higher than FailedLoginsPerUser so that a control
	// room behind one NAT address is not locked out by a few typos.
	FailedLoginsPerAddress = 60
)

// Config is who may log in and how.
type Config struct {
	// Mode is the mode in force (config.Auth.EffectiveMode).
	Mode config.AuthMode
	// Users log in with a password, checked against its bcrypt hash.
	Users []config.User
	// Tokens are accepted as bearer tokens, by their SHA-256.
	Tokens []config.Token
	// SessionTTL is how long a page login lasts without activity; zero
	// means DefaultSessionTTL.
	SessionTTL time.Duration
	// Key signs page logins (LoadKey, NewKey); logins signed with another
	// key are refused. Fewer than 32 bytes means a random key of this
	// Authenticator's own.
	Key []byte
	// SecureCookies marks the login cookie Secure: set it when serving TLS.
	SecureCookies bool
	// Log receives failed logins (the address and a count, never what
	// was sent); nil discards them.
	Log *slog.Logger
}

// Authenticator decides who may use the API and the streams. Its methods
// are safe for concurrent use.
type Authenticator struct {
	mode   config.AuthMode
	users  map[string][]byte   // name → bcrypt hash
	tokens map[[32]byte]string // SHA-256 of the token → name
	ttl    time.Duration
	secure bool // cookies only over TLS
	key    []byte
	// fingerprints are the users' password hashes as page logins carry
	// them (cookie.go).
	fingerprints map[string]string

	log      *slog.Logger
	bcrypt   chan struct{}               // slots for bcrypt checks (guard.go)
	csrf     *http.CrossOriginProtection // refuses cross-site logins and cookie-authorized writes
	failures *ratelimit.Limiter          // failed and in-flight checks per address
	perUser  *ratelimit.Limiter          // the same per user name and address
	logLimit *ratelimit.Limiter          // failed-login log lines per address

	mu       sync.Mutex
	verified map[[32]byte]time.Time // SHA-256 of "user\x00password" → valid until
	failed   map[string]int         // failures per address since its last log line
}

// New returns an Authenticator for c.
func New(c Config) *Authenticator {
	a := &Authenticator{
		mode:     c.Mode,
		users:    make(map[string][]byte),
		tokens:   make(map[[32]byte]string),
		ttl:      c.SessionTTL,
		secure:   c.SecureCookies,
		key:      c.Key,
		verified: make(map[[32]byte]time.Time),
		failures: ratelimit.New(FailedLoginsPerAddress, time.Minute),
		perUser:  ratelimit.New(FailedLoginsPerUser, time.Minute),
		logLimit: newLogLimit(),
		log:      c.Log,
		bcrypt:   make(chan struct{}, bcryptSlots()),
		csrf:     http.NewCrossOriginProtection(),
		failed:   make(map[string]int),
	}
	if a.log == nil {
		a.log = discardLog()
	}
	if a.ttl <= 0 {
		a.ttl = DefaultSessionTTL
	}
	if len(a.key) < keySize {
		a.key = NewKey()
	}
	a.fingerprints = make(map[string]string, len(c.Users))
	for _, u := range c.Users {
		a.users[u.Name] = []byte(u.PasswordHash)
		a.fingerprints[u.Name] = fingerprint(a.key, u.Name, u.PasswordHash)
	}
	for _, t := range c.Tokens {
		var h [32]byte
		if b, err := hex.DecodeString(t.SHA256); err == nil && len(b) == 32 {
			copy(h[:], b)
			a.tokens[h] = t.Name
		}
	}
	return a
}

// Mode is the mode in force.
func (a *Authenticator) Mode() config.AuthMode { return a.mode }

// Accounts returns how many users and tokens may log in.
func (a *Authenticator) Accounts() (users, tokens int) { return len(a.users), len(a.tokens) }

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

// LoggedIn reports whether r comes from someone logged in to the page
// (a valid login cookie), or anyone when the daemon has no logins. It is
// for what the page is served with; it counts no attempt and checks no
// password, so Basic and token credentials say no here and are left to
// Require.
func (a *Authenticator) LoggedIn(r *http.Request) bool {
	if a.mode == config.AuthNone {
		return true
	}
	user, _, _ := a.fromCookie(r)
	return user != ""
}

// Require passes on the requests that are public (see public) or come from
// someone logged in, and answers the rest 401.
func (a *Authenticator) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.mode == config.AuthNone || public(r) {
			next.ServeHTTP(w, r)
			return
		}
		id, err := a.identify(r)
		if err != nil {
			refuse(w, err)
			return
		}
		if id.name != "" {
			// A cookie goes with any request the browser makes, also one
			// a foreign page makes it send: writes it authorizes must come
			// from the page itself.
			if id.byCookie && a.csrf.Check(r) != nil {
				reply(w, http.StatusForbidden, "cross-site request refused")
				return
			}
			if id.renew != nil {
				http.SetCookie(w, id.renew)
			}
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
		reply(w, http.StatusUnauthorized, "log in first: use the page's login, HTTP Basic, or a bearer token")
	})
}

// cached reports whether user and pass were verified lately.
func (a *Authenticator) cached(user, pass string) bool {
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	a.mu.Lock()
	until, ok := a.verified[key]
	a.mu.Unlock()
	return ok && time.Now().Before(until)
}

// checkPassword runs bcrypt for user and pass, in one of its slots; err
// is errBusy when none came free.
func (a *Authenticator) checkPassword(user, pass string) (bool, error) {
	if a.cached(user, pass) {
		return true, nil
	}
	release, err := a.bcryptSlot()
	if err != nil {
		return false, err
	}
	defer release()
	hash, ok := a.users[user]
	if !ok {
		// Spend the same time as a real check so user names cannot be
		// probed by timing.
		for _, h := range a.users {
			_ = bcrypt.CompareHashAndPassword(h, []byte(pass))
			break
		}
		return false, nil
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false, nil
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	a.mu.Lock()
	if len(a.verified) > maxVerified {
		clear(a.verified)
	}
	a.verified[key] = time.Now().Add(basicCacheTTL)
	a.mu.Unlock()
	return true, nil
}
