package daemon_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// Password guessing, sessions and cross-site requests: see attack_test.go.

// usersDaemon runs a daemon with the users operator (a bcrypt hash of
// cost) and viewer.
func usersDaemon(t *testing.T, cost int) *daemontest.Daemon {
	t.Helper()
	op, _ := bcrypt.GenerateFromPassword([]byte("op-pass-1"), cost)
	vw, _ := bcrypt.GenerateFromPassword([]byte("vw-pass-1"), bcrypt.MinCost)
	return daemontest.Start(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(op)}, {Name: "viewer", PasswordHash: string(vw)}}
	})
}

// login posts a login from origin ("" for none) and returns the status and
// the session cookie.
func login(t *testing.T, d *daemontest.Daemon, user, pass, origin string) (int, *http.Cookie) {
	t.Helper()
	resp, err := daemontest.Client().Do(loginRequest(d, user, pass, origin))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "edgecam_session" {
			return resp.StatusCode, c
		}
	}
	return resp.StatusCode, nil
}

// loginRequest is the page's login form for user and pass, posted from
// origin ("" for none).
func loginRequest(d *daemontest.Daemon, user, pass, origin string) *http.Request {
	req, _ := http.NewRequest("POST", d.URL+"/api/login", strings.NewReader(url.Values{"user": {user}, "password": {pass}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return req
}

// basic is a GET of url with HTTP Basic credentials.
func basic(url, user, pass string) *http.Request {
	req := get(url)
	req.SetBasicAuth(user, pass)
	return req
}

// Wrong passwords sent all at once are counted as they arrive, not as
// they finish: of a hundred in parallel, ten are checked.
func TestAttackParallelPasswordGuessesAreCountedInFlight(t *testing.T) {
	t.Parallel()
	d := usersDaemon(t, bcrypt.DefaultCost) // tens of ms a check: they overlap
	codes := statuses(t, 100, true, func(i int) *http.Request {
		return loginRequest(d, "operator", fmt.Sprintf("guess-%d", i), "")
	})
	if codes[http.StatusUnauthorized] > 10 || codes[http.StatusTooManyRequests] < 90 {
		t.Fatalf("100 parallel wrong logins: %v, want at most 10 checked (401), the rest 429", codes)
	}
}

// HTTP Basic on any endpoint is a password guess too: limited like the
// login form, and logged with the address, never the password.
func TestAttackBasicAuthGuessesAreLimitedAndLogged(t *testing.T) {
	t.Parallel()
	d := usersDaemon(t, bcrypt.MinCost)
	codes := statuses(t, 15, false, func(i int) *http.Request {
		return basic(d.URL+"/api/cameras", "operator", fmt.Sprintf("basic-guess-%d", i))
	})
	if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 5 {
		t.Fatalf("15 wrong Basic passwords: %v, want 10 × 401 then 429", codes)
	}
	logs := d.Logs.String()
	if !strings.Contains(logs, "failed login") || !strings.Contains(logs, "address=127.0.0.1") {
		t.Fatalf("the failures are not logged:\n%s", logs)
	}
	if strings.Contains(logs, "basic-guess-") {
		t.Fatal("a guessed password is in the log")
	}
}

// Any number of logins by one user leaves the other users' page logins
// alone.
func TestAttackOneUserCannotLogEveryoneOut(t *testing.T) {
	t.Parallel()
	d := usersDaemon(t, bcrypt.MinCost)
	_, viewer := login(t, d, "viewer", "vw-pass-1", "")
	if viewer == nil {
		t.Fatal("no session cookie")
	}
	for range 1100 {
		if code, _ := login(t, d, "operator", "op-pass-1", ""); code != http.StatusNoContent {
			t.Fatalf("login: %d", code)
		}
	}
	req := get(d.URL + "/api/cameras")
	req.AddCookie(viewer)
	resp, err := daemontest.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the viewer's login after 1100 logins of another user: %d", resp.StatusCode)
	}
}

// A foreign page cannot log the browser in (login CSRF) or out.
func TestAttackCrossSiteLoginIsRefused(t *testing.T) {
	t.Parallel()
	d := usersDaemon(t, bcrypt.MinCost)
	if code, c := login(t, d, "operator", "op-pass-1", "http://evil.example"); code != http.StatusForbidden || c != nil {
		t.Fatalf("a login posted from another origin: %d, cookie %v; want 403 and none", code, c)
	}
	codes := statuses(t, 1, false, func(int) *http.Request {
		req := loginRequest(d, "operator", "op-pass-1", "")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		return req
	})
	if codes[http.StatusForbidden] != 1 {
		t.Fatalf("a cross-site login: %v, want 403", codes)
	}
	code, c := login(t, d, "operator", "op-pass-1", d.URL)
	if code != http.StatusNoContent || c == nil {
		t.Fatalf("the page's own login: %d", code)
	}
	// Nor log it out.
	codes = statuses(t, 1, false, func(int) *http.Request {
		req, _ := http.NewRequest("POST", d.URL+"/api/logout", nil)
		req.Header.Set("Origin", "http://evil.example")
		req.AddCookie(c)
		return req
	})
	if codes[http.StatusForbidden] != 1 {
		t.Fatalf("a logout posted from another origin: %v, want 403", codes)
	}
	req := get(d.URL + "/api/cameras")
	req.AddCookie(c)
	if codes := statuses(t, 1, false, func(int) *http.Request { return req }); codes[http.StatusOK] != 1 {
		t.Fatalf("the login after a cross-site logout: %v, want it still valid", codes)
	}
}

// bcrypt is slow on purpose; checks run a few at a time (half the cores)
// and the rest wait briefly, then get 503: guessing cannot take every
// core from the video.
func TestAttackBcryptChecksRunAFewAtATime(t *testing.T) {
	t.Parallel()
	d := usersDaemon(t, 13) // about half a second a check
	codes := statuses(t, 8, true, func(i int) *http.Request {
		return basic(d.URL+"/api/cameras", "operator", fmt.Sprintf("slow-guess-%d", i))
	})
	if codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusUnauthorized] == 0 {
		t.Fatalf("8 slow checks at once: %v, want some checked (401) and the rest told to come back (503)", codes)
	}
}

// Guessing tokens counts like guessing passwords.
func TestAttackTokenGuessesCount(t *testing.T) {
	t.Parallel()
	d := usersDaemon(t, bcrypt.MinCost)
	codes := statuses(t, 12, false, func(i int) *http.Request {
		req := get(d.URL + "/api/cameras")
		req.Header.Set("Authorization", fmt.Sprintf("Bearer guessed-token-%d", i))
		return req
	})
	if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 2 {
		t.Fatalf("12 wrong tokens: %v, want 10 × 401 then 429", codes)
	}
}

// A viewer's cookie does not let a foreign page write on their behalf.
func TestAttackCookieWritesFromOtherSitesAreRefused(t *testing.T) {
	t.Parallel()
	d := usersDaemon(t, bcrypt.MinCost)
	_, cookie := login(t, d, "viewer", "vw-pass-1", "")
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	post := func(origin string) (int, string) {
		req, _ := http.NewRequest("POST", d.URL+"/cameras/press-1/detections", strings.NewReader(`{"pts":1,"model":"m","objects":[]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.AddCookie(cookie)
		resp, err := daemontest.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("http://evil.example"); code != http.StatusForbidden {
		t.Fatalf("a write from another origin with the viewer's cookie: %d %q, want 403", code, body)
	}
	// From the page itself it goes through (to the camera it names).
	if code, body := post(d.URL); code != http.StatusNotFound || !strings.Contains(body, "no camera") {
		t.Fatalf("a write from the page: %d %q, want 404 for its unknown camera", code, body)
	}
}
