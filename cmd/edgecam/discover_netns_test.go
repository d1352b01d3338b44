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
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture/onvif/onviftest"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon/daemontest/netnstest"
	"github.com/edgecam/edgecam/daemon/e2e/netns"
)

// The namespace's veth pair: the box's end and the cameras', where the
// simulated devices and their cameras listen.
const (
	boxLink    = "disc0"
	cameraLink = "disc1"
	cameraIP   = "10.231.8.2"
)

// inDiscoverNetns reports whether the calling test runs inside its own
// namespace and should go on; outside one it runs the test in a fresh
// namespace and returns false.
func inDiscoverNetns(t *testing.T) bool {
	t.Helper()
	return netnstest.Enter(t, netnstest.Options{
		Env:  "EDGECAM_TEST_DISCOVER_NETNS",
		Name: "edgecam-discover",
		// The box's side and the cameras'.
		Veth: [2]netns.Link{{Name: boxLink, Addr: "10.231.8.1/24"}, {Name: cameraLink, Addr: cameraIP + "/24"}},
		// Probes leave by the interface chosen per socket; the route only
		// makes sure the kernel has one for the group at all.
		Setup:           [][]string{{"route", "add", "224.0.0.0/4", "dev", boxLink}},
		Timeout:         60 * time.Second,
		What:            "discover test",
		Install:         "Debian: apt-get install iproute2",
		SkipWithoutRoot: true,
	})
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
		if err := d.ServeDiscovery(boxLink, cameraLink, "lo"); err != nil {
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
		{"one interface", []string{"--interface", boxLink}},
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
