// Package chromium starts Debian's headless Chromium the way the browser
// tests and the bench's grid scenarios drive the page: software rendering,
// autoplay of muted video allowed, no background work of its own, and a
// fresh profile.
package chromium

import (
	"os/exec"

	"github.com/chromedp/chromedp"
)

// Options are the allocator options for headless Chromium with its profile
// in dir and a window of width×height pixels. It fails when chromium is not
// on PATH.
func Options(dir string, width, height int) ([]chromedp.ExecAllocatorOption, error) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		return nil, err
	}
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // as root, Chromium refuses to run sandboxed
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(dir),
	}, nil
}
