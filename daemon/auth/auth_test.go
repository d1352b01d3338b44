package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/auth"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whepclient"
)

func TestLoginProtectsAPIAndStreams(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("op-pass-1"), bcrypt.MinCost)
	token := "tok-0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(hash)}}
		cfg.Auth.Tokens = []config.Token{{Name: "cv-team", SHA256: hex.EncodeToString(sum[:])}}
	}, daemontest.Camera("press-1", c.URL()))

	status := func(req *http.Request, client *http.Client) (int, http.Header) {
		t.Helper()
		if client == nil {
			client = daemontest.Client()
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	get := func(path string) *http.Request {
		req, _ := http.NewRequest("GET", d.URL+path, nil)
		return req
	}

	// Public: the page's files, health, the session probe.
	for _, p := range []string{"/", "/app.js", "/healthz", "/api/session"} {
		if code, _ := status(get(p), nil); code != 200 {
			t.Errorf("GET %s without login: %d, want 200", p, code)
		}
	}
	// Everything with data needs a login; scripts get a Basic challenge.
	for _, p := range []string{"/api/cameras", "/api/cameras/press-1", "/cameras/press-1/snapshot.jpg", "/cameras/press-1/mjpeg"} {
		code, h := status(get(p), nil)
		if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("GET %s without login: %d %q, want 401 with a Basic challenge", p, code, h.Get("WWW-Authenticate"))
		}
	}
	// A model reading frames or posting detections needs a user or token
	// like any viewer: never anonymous.
	if code, _ := status(get("/cameras/press-1/frames"), nil); code != 401 {
		t.Errorf("GET /cameras/press-1/frames without login: %d, want 401", code)
	}
	postDetections := func(bearer string) int {
		req, _ := http.NewRequest("POST", d.URL+"/cameras/press-1/detections", strings.NewReader(`{"pts":1,"model":"m","objects":[]}`))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		code, _ := status(req, nil)
		return code
	}
	if code := postDetections(""); code != 401 {
		t.Errorf("POST detections without login: %d, want 401", code)
	}
	if code := postDetections(token); code != 422 { // let in: pts 1 names no frame
		t.Errorf("POST detections with a token: %d, want 422 for its unknown frame", code)
	}
	// The page asks without triggering the browser's dialog.
	req := get("/api/cameras")
	req.Header.Set("X-Requested-With", "edgecam")
	if code, h := status(req, nil); code != 401 || h.Get("WWW-Authenticate") != "" {
		t.Errorf("page request: %d %q, want 401 without a challenge", code, h.Get("WWW-Authenticate"))
	}
	// Nor does an EventSource or <img>, which a challenge would stall.
	req = get("/api/events")
	req.Header.Set("Sec-Fetch-Mode", "cors")
	if code, h := status(req, nil); code != 401 || h.Get("WWW-Authenticate") != "" {
		t.Errorf("EventSource request: %d %q, want 401 without a challenge", code, h.Get("WWW-Authenticate"))
	}
	// Basic, as ffmpeg and OpenCV send it from user:pass@ in the URL.
	req = get("/api/cameras")
	req.SetBasicAuth("operator", "op-pass-1")
	if code, _ := status(req, nil); code != 200 {
		t.Errorf("basic auth: %d", code)
	}
	req = get("/api/cameras")
	req.SetBasicAuth("operator", "wrong")
	if code, _ := status(req, nil); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	// Bearer token, in the header or the query.
	req = get("/api/cameras")
	req.Header.Set("Authorization", "Bearer "+token)
	if code, _ := status(req, nil); code != 200 {
		t.Errorf("bearer: %d", code)
	}
	if code, _ := status(get("/api/cameras?access_token="+token), nil); code != 200 {
		t.Errorf("access_token query: %d", code)
	}
	// WHEP with a token.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := whepclient.Dial(ctx, d.URL+"/cameras/press-1/whep", whepclient.Options{Interfaces: []string{"lo"}}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("WHEP without login: %v, want 401", err)
	}
	v, err := whepclient.Dial(ctx, d.URL+"/cameras/press-1/whep?access_token="+token, whepclient.Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatalf("WHEP with token: %v", err)
	}
	defer v.Close()

	// The page's login: a cookie session.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	login, _ := http.NewRequest("POST", d.URL+"/api/login", strings.NewReader(url.Values{"user": {"operator"}, "password": {"op-pass-1"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, h := status(login, browser); code != 204 || !strings.Contains(h.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(h.Get("Set-Cookie"), "SameSite=Strict") {
		t.Fatalf("login: %d %q", code, h.Get("Set-Cookie"))
	}
	if code, _ := status(get("/api/cameras"), browser); code != 200 {
		t.Errorf("after login: %d", code)
	}
	logout, _ := http.NewRequest("POST", d.URL+"/api/logout", nil)
	status(logout, browser)
	if code, _ := status(get("/api/cameras"), browser); code != 401 {
		t.Errorf("after logout: %d", code)
	}
}

func TestRepeatedFailedLoginsAreSlowedDown(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "op", PasswordHash: string(hash)}}
	})
	codes := map[int]int{}
	for i := 0; i < auth.FailedLoginsPerUser+3; i++ {
		resp, err := daemontest.Client().Post(d.URL+"/api/login", "application/json", strings.NewReader(`{"user":"op","password":"guess"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[401] != auth.FailedLoginsPerUser || codes[429] != 3 {
		t.Fatalf("answers %v, want %d×401 then 429", codes, auth.FailedLoginsPerUser)
	}
}

// One person's typos lock only their own name at that address: the rest
// of a control room behind the same NAT address still logs in. One
// address trying many names is still stopped, at a higher count.
func TestFailedLoginsLockTheUserAtTheAddressNotTheRoom(t *testing.T) {
	op, _ := bcrypt.GenerateFromPassword([]byte("op-pass-1"), bcrypt.MinCost)
	vw, _ := bcrypt.GenerateFromPassword([]byte("vw-pass-1"), bcrypt.MinCost)
	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(op)}, {Name: "viewer", PasswordHash: string(vw)}}
	})
	login := func(user, pass string) int {
		t.Helper()
		body := fmt.Sprintf(`{"user":%q,"password":%q}`, user, pass)
		resp, err := http.Post(d.URL+"/api/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range auth.FailedLoginsPerUser {
		login("operator", "typo")
	}
	if code := login("operator", "op-pass-1"); code != http.StatusTooManyRequests {
		t.Errorf("operator after %d failures: %d, want 429", auth.FailedLoginsPerUser, code)
	}
	if code := login("viewer", "vw-pass-1"); code != http.StatusNoContent {
		t.Errorf("viewer from the same address after the operator's failures: %d, want 204", code)
	}

	// Guessing across names: the address's own cap.
	codes := map[int]int{}
	for i := range auth.FailedLoginsPerAddress {
		codes[login(fmt.Sprintf("name-%d", i), "guess")]++
	}
	want := auth.FailedLoginsPerAddress - auth.FailedLoginsPerUser // the operator's failures count too
	if codes[http.StatusUnauthorized] != want || codes[http.StatusTooManyRequests] != auth.FailedLoginsPerUser {
		t.Errorf("%d guesses at different names: %v, want %d × 401 then 429", auth.FailedLoginsPerAddress, codes, want)
	}
	if code := login("viewer", "vw-pass-1"); code != http.StatusTooManyRequests {
		t.Errorf("viewer once the address has %d failures: %d, want 429", auth.FailedLoginsPerAddress, code)
	}
}
