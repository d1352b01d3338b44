//go:build browser

package browser

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/edgecam/edgecam/capture/testcamera"
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
