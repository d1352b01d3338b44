package auth

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// AdoptSessions keeps the page logins of old whose users still exist, so a
// reload that adds a user does not log everyone out.
func (a *Authenticator) AdoptSessions(old *Authenticator) {
	old.mu.Lock()
	defer old.mu.Unlock()
	for id, s := range old.sessions {
		if _, ok := a.users[s.user]; ok {
			a.sessions[id] = &loginSession{user: s.user, expires: s.expires}
		}
	}
}

// session returns the user of a live page login, and keeps it alive: the
// lifetime slides, so a control room stays logged in.
func (a *Authenticator) session(id string) string {
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
	s.expires = now.Add(a.ttl)
	return s.user
}

// newSession starts a page login for user and returns its id.
func (a *Authenticator) newSession(user string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	// One user logging in again and again drops only their own oldest
	// logins, never another user's.
	if a.count(user) >= maxSessionsPerUser {
		a.dropOldest(user)
	}
	if len(a.sessions) >= maxSessions {
		a.dropOldest("")
	}
	a.sessions[id] = &loginSession{user: user, expires: time.Now().Add(a.ttl)}
	return id
}

// count returns user's page logins. a.mu is held.
func (a *Authenticator) count(user string) int {
	n := 0
	for _, s := range a.sessions {
		if s.user == user {
			n++
		}
	}
	return n
}

// dropOldest ends the page login that expires first: user's, or anyone's
// for "". a.mu is held.
func (a *Authenticator) dropOldest(user string) {
	var oldest string
	var at time.Time
	for k, s := range a.sessions {
		if (user == "" || s.user == user) && (oldest == "" || s.expires.Before(at)) {
			oldest, at = k, s.expires
		}
	}
	delete(a.sessions, oldest)
}
