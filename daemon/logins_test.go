package daemon_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// loginConfig is a configuration with the user operator, whose password is
// pass.
func loginConfig(t *testing.T, pass string) *config.Config {
	t.Helper()
	hash, _ := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	cfg := daemontest.Config()
	cfg.Auth.Mode = config.AuthUsers
	cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(hash)}}
	cfg.ApplyDefaults()
	return cfg
}

// session asks /api/session with the cookie c.
func session(t *testing.T, d *daemontest.Daemon, c *http.Cookie) (user, reason string) {
	t.Helper()
	req := get(d.URL + "/api/session")
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ User, Reason string }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("GET /api/session: %v", err)
	}
	return s.User, s.Reason
}

// A wall screen's login outlives the daemon: stopped and started again
// with the same state directory (a restart, an upgrade, a reboot), it
// still lets the page in.
func TestPageLoginSurvivesARestart(t *testing.T) {
	state := t.TempDir()
	cfg := loginConfig(t, "op-pass-1")
	first := daemontest.Run(t, cfg, daemon.Options{StateDir: state})
	code, cookie := login(t, first, "operator", "op-pass-1", "")
	if code != http.StatusNoContent || cookie == nil {
		t.Fatalf("login: %d, cookie %v", code, cookie)
	}
	if cookie.MaxAge <= 0 {
		t.Errorf("login cookie without Max-Age: a browser restart (a reboot of the wall) would drop it")
	}
	fi, err := os.Stat(filepath.Join(state, "session.key"))
	if err != nil {
		t.Fatalf("no key in the state directory: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	first.Stop()

	second := daemontest.Run(t, cfg, daemon.Options{StateDir: state})
	if user, reason := session(t, second, cookie); user != "operator" {
		t.Fatalf("after a restart: user %q, reason %q; want still operator", user, reason)
	}
	req := get(second.URL + "/api/cameras")
	req.AddCookie(cookie)
	if code := status(t, req); code != http.StatusOK {
		t.Errorf("GET /api/cameras with the login after a restart: %d, want 200", code)
	}

	// Without a state directory there is nothing to keep the key in: the
	// page is told why it must log in again.
	third := daemontest.Run(t, cfg, daemon.Options{})
	if user, reason := session(t, third, cookie); user != "" || reason != "key_changed" {
		t.Errorf("daemon without the state directory: user %q, reason %q; want none, key_changed", user, reason)
	}
}

// Changing a user's password in the configuration and reloading ends that
// user's logins, and the login form can say so.
func TestReloadWithANewPasswordEndsThatUsersLogins(t *testing.T) {
	hash1, _ := bcrypt.GenerateFromPassword([]byte("op-pass-1"), bcrypt.MinCost)
	hash2, _ := bcrypt.GenerateFromPassword([]byte("op-pass-2"), bcrypt.MinCost)
	yaml := func(hash []byte) string {
		return "http:\n  listen: 127.0.0.1:0\nwebrtc:\n  udp_port: 0\n  interfaces: [lo]\n" +
			"auth:\n  mode: users\n  users:\n    - name: operator\n      password_hash: \"" + string(hash) + "\"\n"
	}
	r := startReloadableWith(t, yaml(hash1), daemon.Options{StateDir: t.TempDir()})
	_, cookie := login(t, r.Daemon, "operator", "op-pass-1", "")
	if cookie == nil {
		t.Fatal("no login cookie")
	}
	r.apply(t, yaml(hash1)+"  session_ttl: 240h\n") // another setting, the same users
	if user, reason := session(t, r.Daemon, cookie); user != "operator" {
		t.Fatalf("after a reload that kept the password: user %q, reason %q", user, reason)
	}
	r.apply(t, yaml(hash2))
	if user, reason := session(t, r.Daemon, cookie); user != "" || reason != "password_changed" {
		t.Errorf("after a reload with a new password: user %q, reason %q; want none, password_changed", user, reason)
	}
}

func status(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The page is served with the camera list inside it, so that its tiles
// start without asking for the list first; only to someone logged in.
// Anyone else gets the page alone, with no camera name in it, and its
// scripts ask /api/cameras, which sends them to the login.
func TestPageCarriesTheCameraListOnlyForALogin(t *testing.T) {
	t.Parallel()
	cfg := loginConfig(t, "op-pass-1")
	cam := daemontest.Camera("dock-gate", "rtsp://admin:Pw-in-url-7@127.0.0.1:9/stream")
	// A title is the plant's own text: it must not end the data block.
	const title = `Dock </script><script>alert(1)</script> gate`
	cam.Title = title
	cfg.Cameras = []config.Camera{cam}
	cfg.ApplyDefaults()
	d := daemontest.Run(t, cfg, daemon.Options{})
	_, cookie := login(t, d, "operator", "op-pass-1", "")
	if cookie == nil {
		t.Fatal("no login cookie")
	}

	page := func(c *http.Cookie, basicPass string) string {
		t.Helper()
		req := get(d.URL + "/")
		if c != nil {
			req.AddCookie(c)
		}
		if basicPass != "" {
			req.SetBasicAuth("operator", basicPass)
		}
		code, body := daemontest.Do(t, req)
		if code != http.StatusOK {
			t.Fatalf("GET /: %d", code)
		}
		return string(body)
	}
	const open = `<script type="application/json" id="camera-list">`
	withLogin := page(cookie, "")
	_, list, ok := strings.Cut(withLogin, open)
	if !ok {
		t.Fatalf("the page of someone logged in has no camera list:\n%s", withLogin)
	}
	list, _, _ = strings.Cut(list, "</script>")
	if strings.Contains(list, "<") {
		t.Errorf("the page's camera list has a raw <, which could end its block:\n%s", list)
	}
	var body struct {
		Cameras []struct{ Name, URL, Title string }
	}
	if err := json.Unmarshal([]byte(list), &body); err != nil {
		t.Fatalf("the page's camera list is not JSON: %v\n%s", err, list)
	}
	if len(body.Cameras) != 1 || body.Cameras[0].Name != "dock-gate" || body.Cameras[0].Title != title ||
		!strings.Contains(body.Cameras[0].URL, "admin:***@") {
		t.Errorf("the page's camera list = %+v, want dock-gate with its URL redacted", body.Cameras)
	}
	if strings.Contains(withLogin, "Pw-in-url-7") {
		t.Error("the camera's password is in the page")
	}

	// Not logged in, or logged in another way than the page's login
	// (Basic, right or wrong, is checked and counted by the API itself).
	for name, p := range map[string]string{"no login": page(nil, ""), "Basic": page(nil, "op-pass-1")} {
		if strings.Contains(p, open) || strings.Contains(p, "dock-gate") {
			t.Errorf("%s: the page carries the camera list:\n%s", name, p)
		}
	}
}
