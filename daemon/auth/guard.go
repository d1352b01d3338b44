package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/edgecam/edgecam/daemon/ratelimit"
)

// Password guessing is limited however the password arrives (the login
// form, HTTP Basic on any endpoint, a bearer token): each attempt is
// counted before it is checked, so that a hundred sent at once are not a
// hundred bcrypt checks, and taken back when it succeeds. It is counted
// twice: for the user name from that address, so that one person's typos
// lock only that name there and not a whole control room behind one NAT
// address, and for the address, with a higher cap, so that one address
// cannot try many names either. bcrypt
// itself is a budget: a few checks run at once, the rest wait briefly or
// are refused, so that guessing cannot starve the box.

const (
	// bcryptWait is how long a check waits for a slot.
	bcryptWait = 2 * time.Second
	// maxFailedAddrs bounds the addresses whose failures are counted
	// between log lines.
	maxFailedAddrs = 4096
	// tokenUser is the name bearer token guesses are counted under; no
	// user's name contains a colon.
	tokenUser = ":token"
)

var (
	// errGuessing is a password check refused: too many failures lately
	// from the client's address, whatever the user names.
	errGuessing = errors.New("too many failed logins from this address; wait a minute")
	// errGuessingUser is a password check refused: too many failures
	// lately for this user name from the client's address.
	errGuessingUser = errors.New("too many failed logins for this user from this address; wait a minute")
	// errBusy is a password check refused: bcrypt is busy.
	errBusy = errors.New("too many logins being checked at once; try again")
)

// bcryptSlots is how many bcrypt checks run at once: half the cores, so
// that guessing leaves the video the other half.
func bcryptSlots() int { return max(1, runtime.NumCPU()/2) }

// attempt counts a credential check for user from ip before it happens,
// against the address and against the user from that address, and
// returns the function that settles it: a failure stays counted and is
// logged, anything else (a success, a check that did not run) is taken
// back.
func (a *Authenticator) attempt(ip, user string) (settle func(failed bool), err error) {
	if !a.failures.Allow(ip) {
		return nil, errGuessing
	}
	pair := ip + "\x00" + user
	if !a.perUser.Allow(pair) {
		a.failures.Undo(ip)
		return nil, errGuessingUser
	}
	return func(failed bool) {
		if !failed {
			a.failures.Undo(ip)
			a.perUser.Undo(pair)
			return
		}
		a.logFailure(ip)
	}, nil
}

// bcryptSlot waits for a turn to run bcrypt; release gives it back.
func (a *Authenticator) bcryptSlot() (release func(), err error) {
	t := time.NewTimer(bcryptWait)
	defer t.Stop()
	select {
	case a.bcrypt <- struct{}{}:
		return func() { <-a.bcrypt }, nil
	case <-t.C:
		return nil, errBusy
	}
}

// logFailure logs a failed login or credential, at most once a minute per
// address with the count since: never what was sent.
func (a *Authenticator) logFailure(ip string) {
	a.mu.Lock()
	// Addresses that stopped failing leave their counts behind; guessers
	// from many addresses must not grow the table without end.
	if len(a.failed) >= maxFailedAddrs {
		clear(a.failed)
	}
	a.failed[ip]++
	n := a.failed[ip]
	log := a.logLimit.Allow(ip)
	if log {
		delete(a.failed, ip)
	}
	a.mu.Unlock()
	if log {
		a.log.Warn("failed login", "address", ip, "failures", n)
	}
}

// refuse answers a credential check that was not made.
func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, errGuessing) || errors.Is(err, errGuessingUser) {
		w.Header().Set("Retry-After", "60")
		reply(w, http.StatusTooManyRequests, err.Error())
		return
	}
	w.Header().Set("Retry-After", "2")
	reply(w, http.StatusServiceUnavailable, err.Error())
}

func newLogLimit() *ratelimit.Limiter { return ratelimit.New(1, time.Minute) }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
