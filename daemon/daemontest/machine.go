package daemontest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// What a test needs of the machine: tools, and a systemd to talk to.

// Need skips the test when a tool is missing, or fails it when CI=true:
// there, a missing tool is a broken setup, not a reason to test less.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("%s is not installed (Debian: apt-get install ffmpeg chromium iproute2): %v", tool, err)
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s; CI=true, so this is a failure, not a skip", msg)
			}
			t.Skip(msg)
		}
	}
}

// NeedFFmpeg skips (or, with CI=true, fails) a test that needs ffmpeg.
func NeedFFmpeg(t testing.TB) { t.Helper(); Need(t, "ffmpeg", "ffprobe") }

// ListenNotify plays systemd: it makes NOTIFY_SOCKET a datagram socket the
// test reads.
func ListenNotify(t *testing.T) *net.UnixConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", sock)
	return conn
}
