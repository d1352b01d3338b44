//go:build browser

package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

func TestBrowserLogsInAndSeesCameras(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("op-pass-123"), bcrypt.MinCost)
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthUsers
		cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(hash)}}
	}, daemontest.Camera("press-1", c.URL()))
	b := startBrowser(t)

	// The page sends a visitor without a login to the login form.
	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/#/camera/press-1"))
	b.do(t, 10*time.Second, chromedp.WaitVisible("#login"))
	url := evalIn[string](t, b, "location.href")
	if want := d.URL + "/login.html?next=%23%2Fcamera%2Fpress-1"; url != want {
		t.Errorf("redirected to %s, want %s", url, want)
	}

	// A wrong password is refused with a message; the right one plays.
	b.do(t, 10*time.Second,
		chromedp.SendKeys("#user", "operator"),
		chromedp.SendKeys("#password", "wrong-pass"),
		chromedp.Click("#login button"),
		chromedp.WaitVisible("#login-error"),
	)
	b.do(t, 15*time.Second,
		chromedp.SetValue("#password", "op-pass-123"),
		chromedp.Click("#login button"),
	)
	b.waitTile(t, "press-1", 15*time.Second, "live over WebRTC after logging in", func(v tileView) bool {
		return v.State == "live" && v.Transport == "webrtc"
	})
	url = evalIn[string](t, b, "location.href")
	if url != d.URL+"/#/camera/press-1" {
		t.Errorf("after login the page is %s, want the camera the visitor asked for", url)
	}
}

// A wall screen stays logged in while the daemon restarts, says who is
// logged in, and its Log out button leads to the login form saying why.
func TestBrowserLoginSurvivesARestartAndLogsOut(t *testing.T) {
	if !inTestNetns(t) {
		return
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("op-pass-123"), bcrypt.MinCost)
	c := daemontest.StartCamera(t, testcamera.Options{})
	cfg := daemontest.Config(daemontest.Camera("press-1", c.URL()))
	cfg.Auth.Mode = config.AuthUsers
	cfg.Auth.Users = []config.User{{Name: "operator", PasswordHash: string(hash)}}
	cfg.ApplyDefaults()
	state := t.TempDir()
	d := daemontest.Run(t, cfg, daemon.Options{StateDir: state})
	b := startBrowser(t)

	b.do(t, 10*time.Second, chromedp.Navigate(d.URL+"/"), chromedp.WaitVisible("#login"))
	b.do(t, 15*time.Second,
		chromedp.SendKeys("#user", "operator"),
		chromedp.SendKeys("#password", "op-pass-123"),
		chromedp.Click("#login button"),
		chromedp.WaitVisible("#logout"),
	)
	if who := evalIn[string](t, b, "document.getElementById('account-user').textContent"); who != "Logged in as operator" {
		t.Errorf("header says %q, want %q", who, "Logged in as operator")
	}
	b.waitTile(t, "press-1", 15*time.Second, "live over WebRTC", func(v tileView) bool {
		return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > 0
	})

	addr := strings.TrimPrefix(d.URL, "http://")
	d.Stop()
	cfg.HTTP.Listen = addr
	d2 := daemontest.Run(t, cfg, daemon.Options{StateDir: state})
	// Its camera API needs a login: the log says when the page is back.
	daemontest.WaitFor(t, 30*time.Second, "the page watching again after the restart", func() bool {
		return strings.Contains(d2.Logs.String(), "viewer joined")
	})
	frames := b.waitTile(t, "press-1", 5*time.Second, "a tile", func(tileView) bool { return true }).VideoFrames
	b.waitTile(t, "press-1", 15*time.Second, "live again with new frames", func(v tileView) bool {
		return v.State == "live" && v.Transport == "webrtc" && v.VideoFrames > frames
	})
	if url := evalIn[string](t, b, "location.href"); url != d2.URL+"/" {
		t.Fatalf("after the restart the page is %s, want still the wall", url)
	}

	b.do(t, 10*time.Second, chromedp.Click("#logout"), chromedp.WaitVisible("#login-reason"))
	if why := evalIn[string](t, b, "document.getElementById('login-reason').textContent"); why != "You logged out." {
		t.Errorf("after Log out the form says %q, want %q", why, "You logged out.")
	}
	b.do(t, 10*time.Second, chromedp.Navigate(d2.URL+"/"), chromedp.WaitVisible("#login-reason"))
	if why := evalIn[string](t, b, "document.getElementById('login-reason').textContent"); !strings.Contains(why, "not logged in") {
		t.Errorf("the wall after a logout sends to a form saying %q, want that it is not logged in", why)
	}
}
