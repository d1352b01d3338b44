package auth

import (
	"crypto/sha256"
	"net/http"
	"strings"

	"github.com/edgecam/edgecam/daemon/ratelimit"
)

// identity is who a request comes from.
type identity struct {
	name     string // the user or token name; "" for none
	byCookie bool   // a page login's cookie carried it
	// why says why the request carries no valid page login.
	why Reason
	// renew, when not nil, is the page login's cookie with its expiry
	// moved on, to send with the answer.
	renew *http.Cookie
}

// identify returns who a request comes from; err says why a credential
// was not even checked (too many failures, bcrypt busy).
func (a *Authenticator) identify(r *http.Request) (identity, error) {
	var id identity
	if id.name, id.why, id.renew = a.fromCookie(r); id.name != "" {
		id.byCookie = true
		return id, nil
	}
	token := bearer(r)
	user, pass, basic := r.BasicAuth()
	if token == "" && !basic {
		return id, nil
	}
	if token != "" {
		if name := a.tokens[sha256.Sum256([]byte(token))]; name != "" {
			id.name = name
			return id, nil
		}
		// Token guesses are counted as one more user name.
		user = tokenUser
	} else if a.cached(user, pass) {
		id.name = user
		return id, nil
	}
	settle, err := a.attempt(ratelimit.ClientAddr(r), user)
	if err != nil {
		return id, err
	}
	ok := false
	if token == "" {
		if ok, err = a.checkPassword(user, pass); err != nil {
			settle(false) // not checked: not a failure
			return id, err
		}
	}
	settle(!ok)
	if ok {
		id.name = user
	}
	return id, nil
}

func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	// For clients that cannot set headers: a dashboard's <img src>, a
	// WHEP player configured with a URL only.
	return r.URL.Query().Get("access_token")
}
