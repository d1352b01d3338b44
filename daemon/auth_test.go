package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/stream/whepclient"
)

func TestLoginProtectsAPIAndStreams(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("op-pass-1"), bcrypt.MinCost)
	token := "tok-0123456789abcdef"
	sum := sha256.Sum256([]byte(token))
	c := startCamera(t, testcamera.Options{})
	d := startDaemonWith(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(hash)}}
		cfg.Auth.Tokens = []config.Token{{Name: "cv-team", SHA256: hex.EncodeToString(sum[:])}}
	}, cam("press-1", c.URL()))

	status := func(req *http.Request, client *http.Client) (int, http.Header) {
		t.Helper()
		if client == nil {
			client = http.DefaultClient
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
		req, _ := http.NewRequest("GET", d.base+path, nil)
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
	if _, err := whepclient.Dial(ctx, d.base+"/cameras/press-1/whep", whepclient.Options{Interfaces: []string{"lo"}}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("WHEP without login: %v, want 401", err)
	}
	v, err := whepclient.Dial(ctx, d.base+"/cameras/press-1/whep?access_token="+token, whepclient.Options{Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatalf("WHEP with token: %v", err)
	}
	defer v.Close()

	// The page's login: a cookie session.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	login, _ := http.NewRequest("POST", d.base+"/api/login", strings.NewReader(url.Values{"user": {"operator"}, "password": {"op-pass-1"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, h := status(login, browser); code != 204 || !strings.Contains(h.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(h.Get("Set-Cookie"), "SameSite=Strict") {
		t.Fatalf("login: %d %q", code, h.Get("Set-Cookie"))
	}
	if code, _ := status(get("/api/cameras"), browser); code != 200 {
		t.Errorf("after login: %d", code)
	}
	logout, _ := http.NewRequest("POST", d.base+"/api/logout", nil)
	status(logout, browser)
	if code, _ := status(get("/api/cameras"), browser); code != 401 {
		t.Errorf("after logout: %d", code)
	}
}

func TestRepeatedFailedLoginsAreSlowedDown(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	d := startDaemonWith(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "op", PasswordHash: string(hash)}}
	})
	codes := map[int]int{}
	for i := 0; i < loginFailuresPerMinute+3; i++ {
		resp, err := http.Post(d.base+"/api/login", "application/json", strings.NewReader(`{"user":"op","password":"guess"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[401] != loginFailuresPerMinute || codes[429] != 3 {
		t.Fatalf("answers %v, want %d×401 then 429", codes, loginFailuresPerMinute)
	}
}

func TestNetworkListenerWithoutUsersIsRefused(t *testing.T) {
	cfg := config.Default()
	cfg.HTTP.Listen = ":0"
	cfg.ApplyDefaults()
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "no users are configured") {
		t.Fatalf("New: %v, want the no-users error", err)
	}
	cfg.Auth.Mode = config.AuthNone
	if _, err := New(cfg, Options{}); err != nil {
		t.Fatalf("explicit auth none: %v", err)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	d := startDaemon(t)
	for _, p := range []string{"/", "/app.js", "/api/cameras", "/healthz", "/nope", "/cameras/x/whep"} {
		resp, err := http.Get(d.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s header", p, h)
			}
		}
	}
}

func TestServesHTTPSWithConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "edgecam-test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	d := startDaemonWith(t, func(cfg *config.Config) {
		cfg.HTTP.TLS = config.TLS{Cert: certPath, Key: keyPath}
	})
	pool := x509.NewCertPool()
	pool.AddCert(mustParse(t, der))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + d.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("https healthz: %d", resp.StatusCode)
	}

	cfg := config.Default()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.TLS = config.TLS{Cert: filepath.Join(dir, "missing.pem"), Key: keyPath}
	cfg.ApplyDefaults()
	dm, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dm.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("Run with a missing certificate: %v, want an error naming it", err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSessionsPerAddressAreLimited(t *testing.T) {
	d := startDaemonWith(t, func(cfg *config.Config) {
		cfg.HTTP.SessionsPerMinute = 2
		cfg.JPEG.FFmpeg = "/nonexistent/ffmpeg" // answers at once; the limit comes first
	}, cam("press-1", "rtsp://127.0.0.1:1/none"))
	var codes []int
	for i := 0; i < 3; i++ {
		resp, err := http.Get(d.base + "/cameras/press-1/mjpeg")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[2] != http.StatusTooManyRequests || codes[0] == http.StatusTooManyRequests {
		t.Fatalf("answers %v, want the third to be 429", codes)
	}
}
