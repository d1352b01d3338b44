//go:build browser

package browser

// The browser tests drive Debian's headless Chromium against a daemon running
// in the test process. WebRTC media between the two must never touch the
// machine's real interfaces, so every browser test runs in a network
// namespace of its own (package netnstest), with the daemon, the test camera
// and Chromium inside.

import (
	"testing"
	"time"

	"github.com/edgecam/edgecam/daemon/daemontest/netnstest"
	"github.com/edgecam/edgecam/daemon/e2e/netns"
)

// inTestNetns reports whether the calling browser test is running inside its
// own network namespace and should go on. Outside one, it checks that root,
// ip, chromium and tools are available (skipping when they are not, unless
// CI=true, where that is a failure), runs the test in a new namespace with
// its output streamed into this test's log, and returns false: the test has
// run and its result is this test's result.
func inTestNetns(t *testing.T, tools ...string) bool {
	t.Helper()
	return netnstest.Enter(t, netnstest.Options{
		Env:     "EDGECAM_TEST_NETNS",
		Name:    "edgecam-test",
		Veth:    netns.BrowserVeth(),
		Timeout: 90 * time.Second,
		Needs:   append([]string{"chromium"}, tools...),
		What:    "browser test",
		Install: "Debian: apt-get install chromium ffmpeg iproute2, and run as root",
	})
}
