package daemon_test

// What an attacker on the factory LAN tries, with and without a login:
// each test here failed before the fix it names, and stays as the proof.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// send makes a request and returns its status and body.
func send(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	code, b := daemontest.Do(t, req)
	return code, string(b)
}

// statuses sends the n requests req makes, all at once or one after the
// other, and counts their answers by status.
func statuses(t *testing.T, n int, atOnce bool, req func(i int) *http.Request) map[int]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	// A minute, not daemontest.Client's 10 s: a bcrypt check of the
	// password tests takes seconds under -race, and the ones allowed to run
	// at once queue behind each other. The bound only turns a hang into a
	// failure.
	client := &http.Client{Timeout: time.Minute}
	do := func(i int) {
		resp, err := client.Do(req(i))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		mu.Lock()
		codes[resp.StatusCode]++
		mu.Unlock()
	}
	for i := range n {
		if atOnce {
			wg.Go(func() { do(i) })
		} else {
			do(i)
		}
	}
	wg.Wait()
	return codes
}

// get is a GET request to url.
func get(url string) *http.Request {
	req, _ := http.NewRequest("GET", url, nil)
	return req
}

// A login form is a name and a password: a body of megabytes is refused
// before it is read, not parsed up to Go's 10 MB form limit (a few of
// those in parallel would push the daemon past the unit's MemoryMax).
func TestAttackLoginBodyIsCapped(t *testing.T) {
	t.Parallel()
	hash, _ := bcrypt.GenerateFromPassword([]byte("op-pass-1"), bcrypt.MinCost)
	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(hash)}}
	})
	form := url.Values{"user": {"operator"}, "password": {"op-pass-1"}, "pad": {strings.Repeat("x", 1<<20)}}.Encode()
	code, body := send(t, "POST", d.URL+"/api/login", "application/x-www-form-urlencoded", form)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "at most 4096 bytes") {
		t.Fatalf("a 1 MB login form: %d %q, want 413", code, body)
	}
	code, body = send(t, "POST", d.URL+"/api/login", "application/json", `{"user":"operator","password":"`+strings.Repeat("x", 8000)+`"}`)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("an 8 KB JSON login: %d %q, want 413", code, body)
	}
	// A real login still works.
	code, _ = send(t, "POST", d.URL+"/api/login", "application/x-www-form-urlencoded", "user=operator&password=op-pass-1")
	if code != http.StatusNoContent {
		t.Fatalf("login: %d", code)
	}
}

// WHEP takes exactly application/sdp, and an offer that names hundreds
// of hosts to send connectivity checks to is refused: the daemon would
// otherwise send about 13 packets for every byte-ish of the offer.
func TestAttackWHEPOffersAreKeptToWhatBrowsersSend(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	whep := d.URL + "/cameras/press-1/whep"
	for _, tc := range []struct {
		name, contentType, offer string
		status                   int
		says                     string
	}{
		{"a lookalike content type", "application/sdpx", daemontest.WHEPOffer(1), http.StatusUnsupportedMediaType, "application/sdp"},
		{"hundreds of candidates", "application/sdp", daemontest.WHEPOffer(500), http.StatusBadRequest, "500 candidates"},
		{"a browser's offer", "application/sdp; charset=utf-8", daemontest.WHEPOffer(4), http.StatusCreated, "v=0"},
	} {
		code, body := send(t, "POST", whep, tc.contentType, tc.offer)
		if code != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, code, body, tc.status, tc.says)
		}
	}
}

// rawConn opens a TCP connection to the daemon, closed when the test ends.
func rawConn(t *testing.T, d *daemontest.Daemon) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(d.URL, "http://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reads c until the daemon closes it, and reports whether
// that happened within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil // io.Copy returns nil at EOF, a timeout otherwise
}

// A request that announces a body and never sends it is dropped once the
// time to read a request is up, before any login, instead of holding its
// connection and goroutine for good.
func TestAttackABodyThatNeverComesIsDropped(t *testing.T) {
	t.Parallel()
	cfg := daemontest.Config()
	cfg.ApplyDefaults()
	d := daemontest.Run(t, cfg, daemon.Options{RequestReadTimeout: 300 * time.Millisecond})
	c := rawConn(t, d)
	fmt.Fprintf(c, "POST /api/login HTTP/1.1\r\nHost: edgecam\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	if !closedWithin(c, 5*time.Second) {
		t.Fatal("the connection is still open 5 s after the request began, with a 0.3 s budget to read it")
	}
	// The events stream, which stays open, is not cut by that deadline.
	resp, err := daemontest.Client().Get(d.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(time.Second)
	buf := make([]byte, 1)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatalf("events stream after 1 s: %v", err)
	}
}

// One client address holds at most http.connections_per_address
// connections open; beyond, new ones are closed at once, and the daemon
// serves everyone else (and the same address once it lets go).
func TestAttackOneAddressCannotHoldEveryConnection(t *testing.T) {
	t.Parallel()
	cfg := daemontest.Config()
	cfg.HTTP.ConnectionsPerAddress = 8
	cfg.ApplyDefaults()
	d := daemontest.Run(t, cfg, daemon.Options{})
	var held []net.Conn
	for range 8 {
		held = append(held, rawConn(t, d))
	}
	// Accepted in order: once the ninth is closed, all eight are counted.
	extra := rawConn(t, d)
	if !closedWithin(extra, 5*time.Second) {
		t.Fatal("a ninth connection from the address was kept open")
	}
	for _, c := range held {
		c.Close()
	}
	// The daemon lets go of each place when it reads the client's close.
	daemontest.WaitFor(t, 5*time.Second, "a new connection to be served", func() bool {
		resp, err := daemontest.Client().Get(d.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Secrets in a camera URL's query (cameras and gateways take a token or
// password there instead of user:password@) appear nowhere: not in the
// API, the events, the error bodies or the log.
func TestAttackQuerySecretsOfCameraURLsStayHidden(t *testing.T) {
	t.Parallel()
	const tok, pw = "TOKSECRET4711", "PWSECRET0815"
	// Nothing listens on port 1: the camera stays offline with an error.
	cam := daemontest.Camera("gate-1", "rtsp://127.0.0.1:1/live?channel=1&token="+tok+"&loginPass="+pw)
	d := daemontest.Start(t, nil, cam)
	d.WaitState(t, "gate-1", "retrying", 10*time.Second)
	var seen strings.Builder
	for _, path := range []string{"/api/cameras", "/api/cameras/gate-1", "/cameras/gate-1/snapshot.jpg", "/metrics"} {
		_, body := daemontest.Get(t, d.URL+path)
		seen.Write(body)
	}
	resp, err := daemontest.Client().Get(d.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 8192)
	n, _ := resp.Body.Read(first)
	resp.Body.Close()
	seen.Write(first[:n])
	seen.WriteString(d.Logs.String())
	for _, secret := range []string{tok, pw} {
		if strings.Contains(seen.String(), secret) {
			t.Errorf("%s shows in the API, events or log:\n%s", secret, seen.String())
		}
	}
	if !strings.Contains(seen.String(), "token=***") {
		t.Errorf("the redacted URL is not shown where expected:\n%.2000s", seen.String())
	}
}

// Event streams are viewer sessions like the others: counted in
// http.sessions_per_minute.
func TestAttackEventStreamsCountAsSessions(t *testing.T) {
	t.Parallel()
	d := daemontest.Start(t, func(cfg *config.Config) { cfg.HTTP.SessionsPerMinute = 3 })
	codes := statuses(t, 5, false, func(int) *http.Request { return get(d.URL + "/api/events") })
	if codes[http.StatusOK] != 3 || codes[http.StatusTooManyRequests] != 2 {
		t.Fatalf("5 event streams with sessions_per_minute 3: %v, want 3 × 200, 2 × 429", codes)
	}
}
