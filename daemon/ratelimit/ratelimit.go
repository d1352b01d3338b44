// Package ratelimit limits how often one client address may do something:
// open viewer sessions, or fail a login. Keys are client addresses, so a
// runaway script or a password guesser on the LAN slows down alone.
package ratelimit

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// pruneAbove is the table size beyond which keys with nothing left in the
// window are dropped, so addresses that came once do not pile up.
const pruneAbove = 4096

// Limiter allows n events per window per key. Its methods are safe for
// concurrent use.
type Limiter struct {
	n      int
	window time.Duration

	mu   sync.Mutex
	seen map[string][]time.Time
}

// New returns a Limiter that allows n events per window per key.
func New(n int, window time.Duration) *Limiter {
	return &Limiter{n: n, window: window, seen: make(map[string][]time.Time)}
}

// Limit is the number of events the Limiter allows per window.
func (l *Limiter) Limit() int { return l.n }

// Allow records an event for key and reports whether it is within the limit.
// An event beyond the limit is not recorded.
func (l *Limiter) Allow(key string) bool {
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

// Peek reports whether an event for key would be allowed, without recording one.
func (l *Limiter) Peek(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.recent(key, time.Now())
	l.seen[key] = ts
	return len(ts) < l.n
}

// recent returns key's events still in the window. l.mu is held.
func (l *Limiter) recent(key string, now time.Time) []time.Time {
	if len(l.seen) > pruneAbove {
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

// ClientAddr is the key of a request: its remote address without the port.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Undo takes back key's newest event: an attempt counted up front (so
// that attempts in flight count too) that turned out not to be one of
// those limited, such as a login that succeeded.
func (l *Limiter) Undo(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ts := l.seen[key]; len(ts) > 0 {
		l.seen[key] = ts[:len(ts)-1]
	}
}
