package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A page login is a cookie the server signs, not a row in a table: it
// holds the user, when they logged in and when the login expires, and a
// fingerprint of the user's password hash, all under an HMAC-SHA256 with
// the key from the state directory. So a login survives a restart, an
// upgrade and a reboot, and ends when its lifetime passes, when the
// user's password changes or the user is removed from the configuration,
// or when the key changes.

// Reason says why a request carries no valid page login; the page's login
// form shows it.
type Reason string

// Reasons a login is missing or refused.
const (
	ReasonNone            Reason = "not_logged_in"    // no login cookie
	ReasonExpired         Reason = "expired"          // its lifetime passed without use
	ReasonPasswordChanged Reason = "password_changed" // the user's password changed in the configuration
	ReasonUserRemoved     Reason = "user_removed"     // the user is no longer in the configuration
	ReasonKeyChanged      Reason = "key_changed"      // signed with another key, or altered
)

const (
	cookieVersion = "v1"
	// cookieGrace keeps an expired login's cookie in the browser a while
	// past its end, so that the login form can say it expired rather
	// than show nothing.
	cookieGrace = 7 * 24 * time.Hour
	// maxRenewEvery bounds how stale a login's expiry may get before a
	// request renews it, so that a page does not get a new cookie with
	// every request.
	maxRenewEvery = time.Hour
)

// login is what a page login's cookie says.
type login struct {
	user             string
	issued, expires  time.Time
	fingerprint, mac string
}

// fingerprint binds a login to the user's password hash: a new hash (a
// new password, or the user removed and added again) ends their logins.
// It is keyed, so the cookie reveals nothing about the hash.
func fingerprint(key []byte, user, hash string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("edgecam password\x00" + user + "\x00" + hash))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

func sign(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("edgecam login\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// payload is the signed part of the cookie: the user is base64 so that no
// name can inject a separator.
func (l login) payload() string {
	return strings.Join([]string{cookieVersion, base64.RawURLEncoding.EncodeToString([]byte(l.user)),
		strconv.FormatInt(l.issued.Unix(), 10), strconv.FormatInt(l.expires.Unix(), 10), l.fingerprint}, ".")
}

// parseLogin splits a cookie into its fields; ok is false when it is not
// one this version writes.
func parseLogin(v string) (l login, ok bool) {
	f := strings.Split(v, ".")
	if len(f) != 6 || f[0] != cookieVersion {
		return l, false
	}
	user, err1 := base64.RawURLEncoding.DecodeString(f[1])
	iat, err2 := strconv.ParseInt(f[2], 10, 64)
	exp, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return l, false
	}
	return login{user: string(user), issued: time.Unix(iat, 0), expires: time.Unix(exp, 0), fingerprint: f[4], mac: f[5]}, true
}

// verify returns the user a cookie's value logs in, or why it does not.
func (a *Authenticator) verify(v string, now time.Time) (login, Reason) {
	l, ok := parseLogin(v)
	// The signature is checked over the cookie as sent, so that no two
	// spellings of one login are accepted.
	if !ok || !hmac.Equal([]byte(sign(a.key, v[:strings.LastIndexByte(v, '.')])), []byte(l.mac)) {
		return l, ReasonKeyChanged
	}
	fp, known := a.fingerprints[l.user]
	switch {
	case !known:
		return l, ReasonUserRemoved
	case !hmac.Equal([]byte(fp), []byte(l.fingerprint)):
		return l, ReasonPasswordChanged
	case !now.Before(l.expires):
		return l, ReasonExpired
	}
	return l, ""
}

// cookie is the Set-Cookie for l, signed.
func (a *Authenticator) cookie(l login, now time.Time) *http.Cookie {
	l.mac = sign(a.key, l.payload())
	return &http.Cookie{
		Name:     sessionCookie,
		Value:    l.payload() + "." + l.mac,
		Path:     "/",
		MaxAge:   int((l.expires.Sub(now) + cookieGrace) / time.Second),
		HttpOnly: true,
		Secure:   a.secure,
		SameSite: http.SameSiteStrictMode,
	}
}

// newLogin returns the cookie of a new page login for user.
func (a *Authenticator) newLogin(user string) *http.Cookie {
	now := time.Now()
	return a.cookie(login{user: user, issued: now, expires: now.Add(a.ttl), fingerprint: a.fingerprints[user]}, now)
}

// fromCookie returns the user of the request's page login, or why there
// is none; renew is the cookie that moves its expiry on (the lifetime
// slides, so a wall screen stays logged in), or nil while it is fresh.
func (a *Authenticator) fromCookie(r *http.Request) (user string, why Reason, renew *http.Cookie) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", ReasonNone, nil
	}
	now := time.Now()
	l, why := a.verify(c.Value, now)
	if why != "" {
		return "", why, nil
	}
	// A lifetime shortened in the configuration applies at once.
	if left := l.expires.Sub(now); left > a.ttl || left < a.ttl-min(a.ttl/2, maxRenewEvery) {
		l.expires = now.Add(a.ttl)
		renew = a.cookie(l, now)
	}
	return l.user, "", renew
}
