// Package netnstest runs a test inside a network namespace of its own
// (package netns), so that what it sends (WebRTC media, WS-Discovery
// multicast) never reaches the machine's real interfaces.
//
// The test runs twice: the first run (the "parent") creates the namespace,
// re-executes the test binary there for just that test (the "child"),
// streams the child's output into its own log, and deletes the namespace
// whatever the outcome. The child's result is the test's result.
package netnstest

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

// Options describe the namespace and what the test needs.
type Options struct {
	// Env is the environment variable that marks the child; it holds the
	// namespace's name there.
	Env string
	// Name prefixes the namespace's name, which also gets the process id
	// and a sequence number.
	Name string
	// Veth are the two ends of the veth pair.
	Veth [2]netns.Link
	// Setup are more ip commands run in the namespace once its links are
	// up, such as a multicast route.
	Setup [][]string
	// Timeout bounds the child's run.
	Timeout time.Duration
	// Needs are the commands the test needs besides ip.
	Needs []string
	// What names the test in messages; Install says how to get what it
	// needs.
	What, Install string
	// SkipWithoutRoot skips the test without root even under CI=true: for
	// tests in the fast tier, which runs without root.
	SkipWithoutRoot bool
}

var seq atomic.Int32

// Enter reports whether the calling test runs inside its namespace and
// should go on. Outside one it checks that root, ip and o.Needs are there
// (skipping when they are not, unless CI=true, where that is a failure),
// runs the test in a new namespace and returns false.
func Enter(t *testing.T, o Options) bool {
	t.Helper()
	if os.Getenv(o.Env) != "" {
		return true
	}
	need(t, o)
	ns := fmt.Sprintf("%s-%d-%d", o.Name, os.Getpid(), seq.Add(1))
	create(t, ns, o)
	run(t, ns, o)
	return false
}

func need(t *testing.T, o Options) {
	t.Helper()
	if o.SkipWithoutRoot && os.Geteuid() != 0 {
		t.Skipf("the %s needs root to create a network namespace", o.What)
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (to create a network namespace)")
	}
	for _, tool := range append([]string{"ip"}, o.Needs...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the %s needs %s (%s)", o.What, strings.Join(missing, ", "), o.Install)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this is a failure, not a skip", msg)
	}
	t.Skip(msg)
}

// create makes namespace ns and deletes it when the test ends, whatever
// the outcome.
func create(t *testing.T, ns string, o Options) {
	t.Helper()
	if err := netns.Create(ns, o.Veth, o.Setup...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever still runs there was started by this test: the
		// namespace was made for it.
		killed, err := netns.Delete(ns)
		for _, pid := range killed {
			t.Errorf("process %d still ran in namespace %s after the test; killed it", pid, ns)
		}
		if err != nil {
			t.Errorf("deleting the test namespace: %v", err)
		}
	})
}

// run re-executes the test binary in ns for t's test alone and fails t
// unless it passes there.
func run(t *testing.T, ns string, o Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	cmd := netns.Command(ctx, ns, os.Args[0],
		"-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1",
		// Shorter than ours, so a hang panics with every goroutine's stack.
		"-test.timeout", (o.Timeout - 10*time.Second).String())
	cmd.Env = append(os.Environ(), o.Env+"="+ns)
	out := &lineLogger{t: t, prefix: "[" + ns + "] "}
	cmd.Stdout, cmd.Stderr = out, out
	// ip netns exec execs the test binary itself, so the signal reaches it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	out.flush()
	if err != nil {
		t.Fatalf("the %s in namespace %s failed after %s: %v", o.What, ns, time.Since(start).Round(time.Millisecond), err)
	}
	if !strings.Contains(out.all.String(), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("the %s in namespace %s did not pass (was it skipped or not run?)", o.What, ns)
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
