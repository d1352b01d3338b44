package main

// WS-Discovery multicast must never reach a real network from a test, so
// the discover tests run the command inside a network namespace of their
// own: the test (the "parent") creates it with lo and a veth pair whose
// two ends both stay inside, re-executes the test binary there for just
// that test (the "child"), which starts the simulated ONVIF devices and
// test cameras and runs `edgecam discover`, and deletes the namespace
// whatever the outcome. It needs root and ip: without root it skips, as
// the fast tier runs without it; without ip it skips, or fails under
// CI=true.

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture/onvif/onviftest"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
)

const (
	// discoverNetnsEnv is set in the child: the namespace it runs in.
	discoverNetnsEnv = "EDGECAM_TEST_DISCOVER_NETNS"
	// discoverChildTimeout bounds one run inside the namespace.
	discoverChildTimeout = 60 * time.Second
)

// The veth pair inside the namespace: the box's side and the cameras'.
var discoverVeth = []struct{ name, addr string }{
	{"disc0", "10.231.8.1/24"},
	{"disc1", "10.231.8.2/24"},
}

// cameraIP is where the simulated devices and their cameras listen.
const cameraIP = "10.231.8.2"

// inDiscoverNetns reports whether the calling test runs inside its own
// namespace and should go on; outside one it runs the test in a fresh
// namespace and returns false.
func inDiscoverNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(discoverNetnsEnv) != "" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("the discover test needs root to create a network namespace for its multicast")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		msg := "the discover test needs ip (Debian: apt-get install iproute2)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI=true, so this is a failure, not a skip")
		}
		t.Skip(msg)
	}
	ns := fmt.Sprintf("edgecam-discover-%d", os.Getpid())
	if err := ip("netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeNetns(t, ns) })
	a, b := discoverVeth[0], discoverVeth[1]
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", a.name, "type", "veth", "peer", "name", b.name},
		{"addr", "add", a.addr, "dev", a.name},
		{"addr", "add", b.addr, "dev", b.name},
		{"link", "set", a.name, "up"},
		{"link", "set", b.name, "up"},
		// Probes leave by the interface chosen per socket; the route only
		// makes sure the kernel has one for the group at all.
		{"route", "add", "224.0.0.0/4", "dev", a.name},
	} {
		if err := ip(append([]string{"-n", ns}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	runChild(t, ns)
	return false
}

// ip runs ip with args, bounded in time.
func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// removeNetns ends what the child left running in ns and deletes it.
func removeNetns(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
				t.Errorf("process %d still ran in namespace %s; killing it", pid, ns)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if err := ip("netns", "delete", ns); err != nil {
		t.Errorf("deleting the test namespace: %v", err)
	}
}

// runChild re-runs t's test in ns and fails t unless it passes there.
func runChild(t *testing.T, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), discoverChildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0],
		"-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1",
		// Shorter than ours, so a hang panics with every goroutine's stack.
		"-test.timeout", (discoverChildTimeout - 10*time.Second).String())
	cmd.Env = append(os.Environ(), discoverNetnsEnv+"="+ns)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		t.Log("[" + ns + "] " + line)
	}
	if err != nil {
		t.Fatalf("the test in namespace %s failed: %v", ns, err)
	}
	if !strings.Contains(out.String(), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("the test in namespace %s did not pass (skipped, or not run?)", ns)
	}
}

func TestDiscoverPrintsCamerasFoundByMulticast(t *testing.T) {
	if !inDiscoverNetns(t) {
		return
	}
	const user, password = "admin", "Pr3ss/line#1"
	cam := func(path string, clip []byte) string {
		c, err := testcamera.Start(testcamera.Options{Addr: cameraIP + ":0", Path: path, User: user, Pass: password, Clip: clip})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		u, _ := url.Parse(c.URL())
		u.User = nil
		return u.String()
	}
	mainURI, subURI := cam("/Streaming/Channels/101", nil), cam("/Streaming/Channels/102", lowres.Clip())
	device := func(opts onviftest.Options) *onviftest.Device {
		opts.Addr = cameraIP + ":0"
		d, err := onviftest.Start(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		// On both ends, so each interface's probe reaches it and the
		// answers must be merged; and on lo, which is probed only when
		// named.
		if err := d.ServeDiscovery(discoverVeth[0].name, discoverVeth[1].name, "lo"); err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := device(onviftest.Options{User: user, Password: password, Name: "Press 1", Manufacturer: "AXIS", Model: "P1375",
		Profiles: []onviftest.Profile{
			{Token: "profile_1_h264", Name: "profile_1 h264", Width: 1920, Height: 1080, FPS: 25, URI: mainURI},
			{Token: "profile_2_h264", Name: "profile_2 h264", Width: 640, Height: 360, FPS: 25, URI: subURI},
		}})
	refusing := device(onviftest.Options{User: user, Password: "another one", Manufacturer: "HIKVISION", Model: "DS-2CD2143G2-I"})

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"every interface", nil},
		{"one interface", []string{"--interface", discoverVeth[0].name}},
		{"loopback, named", []string{"--interface", "lo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"discover", "--timeout", "1s", "--user", user, "--password", password}, tc.args...)
			code := run(args, &stdout, &stderr)
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			var doc struct {
				Cameras []map[string]string `yaml:"cameras"`
			}
			if err := yaml.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatalf("stdout is not YAML: %v", err)
			}
			want := map[string]string{"name": "press-1", "url": withUser(mainURI, user), "sub_url": withUser(subURI, user), "transport": "tcp"}
			if len(doc.Cameras) != 1 || fmt.Sprint(doc.Cameras[0]) != fmt.Sprint(want) {
				t.Fatalf("cameras %v; want [%v]", doc.Cameras, want)
			}
			for _, s := range []string{"# not added: " + refusing.XAddr() + " (" + refusing.Endpoint() + "): ", "NotAuthorized",
				"# device " + good.XAddr(), "H264 Main 640x360 25 fps", "H264 Main 320x240 25 fps"} {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q", s)
				}
			}
			if !strings.Contains(stderr.String(), "2 device(s) answered") {
				t.Errorf("stderr does not say that 2 devices answered (answers on both interfaces merged)")
			}
			all := stdout.String() + stderr.String()
			if strings.Contains(all, password) || strings.Contains(all, url.PathEscape(password)) || strings.Contains(all, url.QueryEscape(password)) {
				t.Error("the password was printed")
			}
		})
	}
}

func withUser(uri, user string) string {
	u, _ := url.Parse(uri)
	u.User = url.User(user)
	return u.String()
}
