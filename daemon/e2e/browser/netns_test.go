//go:build browser

package browser

// The browser tests drive Debian's headless Chromium against a daemon running
// in the test process. WebRTC media between the two must never touch the
// machine's real interfaces, so every browser test runs twice: the first run
// (the "parent") creates a network namespace of its own and re-executes the
// test binary inside it for just that test (the "child"), which starts the
// daemon, the test camera and Chromium there. The namespace has lo and a veth
// pair whose two ends both stay inside: with lo alone Chromium considers itself
// offline and gathers no ICE candidates.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgecam/edgecam/daemon/e2e/netns"
)

const (
	// netnsEnv is set in the child: the name of the namespace it runs in.
	netnsEnv = "EDGECAM_TEST_NETNS"
	// netnsChildTimeout bounds one browser test run inside its namespace.
	netnsChildTimeout = 90 * time.Second
)

var netnsSeq atomic.Int32

// inTestNetns reports whether the calling browser test is running inside its
// own network namespace and should go on. Outside one, it checks that root,
// ip, chromium and tools are available (skipping when they are not, unless
// CI=true, where that is a failure), creates the namespace, re-runs the test
// there with its output streamed into this test's log, deletes the namespace
// and returns false: the test has run and its result is this test's result.
func inTestNetns(t *testing.T, tools ...string) bool {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		return true
	}
	needBrowserTestTools(t, tools...)
	ns := fmt.Sprintf("edgecam-test-%d-%d", os.Getpid(), netnsSeq.Add(1))
	createTestNetns(t, ns)
	runInTestNetns(t, ns)
	return false
}

func needBrowserTestTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (to create a network namespace)")
	}
	for _, tool := range append([]string{"ip", "chromium"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("browser test needs %s (Debian: apt-get install chromium ffmpeg iproute2, and run as root)",
		strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure, not a skip", msg)
	}
	t.Skip(msg)
}

// createTestNetns creates namespace ns (see package netns) and deletes it
// when the test ends, whatever the outcome.
func createTestNetns(t *testing.T, ns string) {
	t.Helper()
	if err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killed, err := netns.Delete(ns)
		for _, pid := range killed {
			t.Errorf("process %d still ran in namespace %s after the test; killed it", pid, ns)
		}
		if err != nil {
			t.Errorf("deleting the test namespace: %v", err)
		}
	})
}

// runInTestNetns re-executes this test binary in ns for t's test alone and
// fails t unless it passes there.
func runInTestNetns(t *testing.T, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), netnsChildTimeout)
	defer cancel()
	cmd := netns.Command(ctx, ns, os.Args[0],
		"-test.run", "^"+regexp.QuoteMeta(t.Name())+"$",
		"-test.v", "-test.count=1",
		// Shorter than ours, so a hang panics with every goroutine's stack.
		"-test.timeout", (netnsChildTimeout - 10*time.Second).String())
	cmd.Env = append(os.Environ(), netnsEnv+"="+ns)
	out := &lineLogger{t: t, prefix: "[" + ns + "] "}
	cmd.Stdout, cmd.Stderr = out, out
	// ip netns exec execs the test binary itself, so the signal reaches it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	out.flush()
	if err != nil {
		t.Fatalf("browser test in namespace %s failed after %s: %v", ns, time.Since(start).Round(time.Millisecond), err)
	}
	if !strings.Contains(out.all.String(), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("browser test in namespace %s did not pass (was it skipped or not run?)", ns)
	}
}

// lineLogger passes a child's output to t.Log line by line, so it streams
// into the test's log as it comes.
type lineLogger struct {
	t       *testing.T
	prefix  string
	partial []byte
	all     bytes.Buffer
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Log(l.prefix + string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

func (l *lineLogger) flush() {
	if len(l.partial) > 0 {
		l.t.Log(l.prefix + string(l.partial))
		l.partial = nil
	}
}
