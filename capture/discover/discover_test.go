package discover_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture/discover"
	"github.com/edgecam/edgecam/capture/onvif"
	"github.com/edgecam/edgecam/capture/onvif/onviftest"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/hevc"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon/config"
)

// The credentials of the simulated cameras. The password has characters
// that URLs escape, so a leak in any spelling is caught.
const (
	user     = "admin"
	password = "s3cr3t/P@ss?#"
)

// spellings are the forms the password could leak in.
var spellings = []string{password, url.PathEscape(password), url.QueryEscape(password), url.UserPassword(user, password).String()}

// camerasFor starts a main and a sub test camera that want the credentials
// and returns a device whose profiles point at them: a JPEG profile that
// must never be chosen, the main stream, a 720p one and the sub-stream.
func camerasFor(t *testing.T, opts onviftest.Options) *onviftest.Device {
	t.Helper()
	main := startCamera(t, testcamera.Options{User: user, Pass: password, Path: "/Streaming/Channels/101"})
	sub := startCamera(t, testcamera.Options{User: user, Pass: password, Path: "/Streaming/Channels/102", Clip: lowres.Clip()})
	plain := func(c *testcamera.Camera) string {
		u, _ := url.Parse(c.URL())
		u.User = nil
		return u.String()
	}
	opts.Profiles = []onviftest.Profile{
		{Token: "Profile_4", Name: "jpegStream", Encoding: "JPEG", Width: 2560, Height: 1440, FPS: 5, URI: "rtsp://192.0.2.1/jpeg"},
		{Token: "Profile_1", Name: "mainStream", Width: 1920, Height: 1080, FPS: 25, URI: plain(main)},
		{Token: "Profile_3", Name: "thirdStream", Width: 1280, Height: 720, FPS: 25, URI: "rtsp://192.0.2.1/third"},
		{Token: "Profile_2", Name: "subStream", Width: 640, Height: 360, FPS: 25, URI: plain(sub)},
	}
	return startDevice(t, opts)
}

func startCamera(t *testing.T, opts testcamera.Options) *testcamera.Camera {
	t.Helper()
	c, err := testcamera.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func startDevice(t *testing.T, opts onviftest.Options) *onviftest.Device {
	t.Helper()
	if opts.Manufacturer == "" {
		opts.Manufacturer, opts.Model, opts.Firmware, opts.Serial = "HIKVISION", "DS-2CD2143G2-I", "V5.7.3 build 220112", "DS-2CD2143G2-I20220101AAWRJ12345678"
	}
	d, err := onviftest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// find asks the devices directly (no multicast: that is the namespace
// test's business) within a bounded time.
func find(t *testing.T, o discover.Options, devs ...*onviftest.Device) []discover.Camera {
	t.Helper()
	for _, d := range devs {
		o.Devices = append(o.Devices, d.XAddr())
	}
	o.NoMulticast = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cams, err := discover.Find(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(cams) != len(devs) {
		t.Fatalf("got %d cameras for %d devices", len(cams), len(devs))
	}
	return cams
}

func TestFindListsEveryDeviceWithItsStreamsOrTheReason(t *testing.T) {
	tests := []struct {
		name       string
		device     onviftest.Options
		user, pass string
		timeout    time.Duration
		wantErr    error // nil: the camera has main and sub streams
		wantReason string
	}{
		{name: "good credentials", device: onviftest.Options{User: user, Password: password}, user: user, pass: password},
		{name: "HTTP digest instead of UsernameToken", device: onviftest.Options{User: user, Password: password, HTTPDigest: true}, user: user, pass: password},
		{name: "GetServices when GetCapabilities is gone", device: onviftest.Options{User: user, Password: password, NoCapabilities: true}, user: user, pass: password},
		{name: "device clock a day behind", device: onviftest.Options{User: user, Password: password, ClockOffset: -26 * time.Hour}, user: user, pass: password},
		{name: "wrong password", device: onviftest.Options{User: user, Password: password}, user: user, pass: "wrong",
			wantErr: onvif.ErrNotAuthorized, wantReason: "check --user and the password"},
		{name: "wrong password over HTTP digest", device: onviftest.Options{User: user, Password: password, HTTPDigest: true}, user: user, pass: "wrong",
			wantErr: onvif.ErrNotAuthorized, wantReason: "HTTP 401"},
		{name: "no credentials given", device: onviftest.Options{User: user, Password: password},
			wantErr: onvif.ErrNotAuthorized, wantReason: "run with --user"},
		{name: "web service never answers", device: onviftest.Options{NeverAnswer: true}, user: user, pass: password, timeout: 300 * time.Millisecond,
			wantErr: context.DeadlineExceeded, wantReason: "did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := camerasFor(t, tt.device)
			cams := find(t, discover.Options{User: tt.user, Password: tt.pass, RequestTimeout: tt.timeout, ProbeTime: -1}, dev)
			c := cams[0]
			var out bytes.Buffer
			if err := discover.WriteYAML(&out, cams, discover.Output{User: tt.user, Password: tt.pass}); err != nil {
				t.Fatal(err)
			}
			if tt.wantErr == nil {
				if c.Err != nil {
					t.Fatalf("device refused: %v", c.Err)
				}
				if c.Main == nil || c.Sub == nil || c.Main.Profile.Token != "Profile_1" || c.Sub.Profile.Token != "Profile_2" {
					t.Fatalf("main %+v, sub %+v; want Profile_1 and Profile_2", c.Main, c.Sub)
				}
				if c.Info.Model != "DS-2CD2143G2-I" {
					t.Errorf("model %q", c.Info.Model)
				}
				return
			}
			if !errors.Is(c.Err, tt.wantErr) {
				t.Fatalf("error %v; want %v", c.Err, tt.wantErr)
			}
			if !strings.Contains(out.String(), "# not added: "+dev.XAddr()) || !strings.Contains(out.String(), tt.wantReason) {
				t.Errorf("the YAML does not list the device with the reason %q:\n%s", tt.wantReason, out.String())
			}
			if strings.Contains(out.String(), "- name:") {
				t.Errorf("a refused device got an entry:\n%s", out.String())
			}
		})
	}
}

// entries parses the YAML discover wrote, as a user pasting it would.
func entries(t *testing.T, doc string) []map[string]string {
	t.Helper()
	var parsed struct {
		Cameras []map[string]string `yaml:"cameras"`
	}
	if err := yaml.Unmarshal([]byte(doc), &parsed); err != nil {
		t.Fatalf("output is not valid YAML: %v\n%s", err, doc)
	}
	return parsed.Cameras
}

func TestYAMLHoldsProbedStreamsAndNoPasswordUnlessInlined(t *testing.T) {
	devs := []*onviftest.Device{
		camerasFor(t, onviftest.Options{User: user, Password: password, Name: "Press 1 / north\nwall"}),
		camerasFor(t, onviftest.Options{User: user, Password: password}),
		camerasFor(t, onviftest.Options{User: user, Password: password}),
		startDevice(t, onviftest.Options{User: user, Password: "other"}),
	}
	var log bytes.Buffer
	cams := find(t, discover.Options{User: user, Password: password, Log: &log}, devs...)
	for _, inline := range []bool{false, true} {
		var out bytes.Buffer
		if err := discover.WriteYAML(&out, cams, discover.Output{User: user, Password: password, InlineCredentials: inline}); err != nil {
			t.Fatal(err)
		}
		doc := out.String()
		t.Logf("inline=%v:\n%s", inline, doc)
		got := entries(t, doc)
		if len(got) != 3 {
			t.Fatalf("%d entries; want 3", len(got))
		}
		wantNames := []string{"press-1-north-wall", "hikvision-ds-2cd2143g2-i", "hikvision-ds-2cd2143g2-i-2"}
		for i, e := range got {
			if e["name"] != wantNames[i] {
				t.Errorf("entry %d: name %q; want %q", i, e["name"], wantNames[i])
			}
			u, err := url.Parse(e["url"])
			if err != nil || !strings.HasSuffix(u.Path, "/101") || !strings.HasSuffix(e["sub_url"], "/102") {
				t.Errorf("entry %d: url %q, sub_url %q", i, e["url"], e["sub_url"])
				continue
			}
			pass, hasPass := u.User.Password()
			if u.User.Username() != user || hasPass != inline || inline && pass != password {
				t.Errorf("entry %d: url %q: want user %q and the password only when inlined", i, e["url"], user)
			}
		}
		for _, want := range []string{"H264 Main 640x360 25 fps", "H264 Main 320x240 25 fps", "# not added: " + devs[3].XAddr()} {
			if !strings.Contains(doc, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		for _, s := range spellings {
			if !inline && strings.Contains(doc, s) || strings.Contains(log.String(), s) {
				t.Errorf("the password leaked as %q", s)
			}
		}
		checkConfigAccepts(t, doc)
	}
}

// checkConfigAccepts runs the entries through edgecam's own configuration
// parser.
func checkConfigAccepts(t *testing.T, doc string) {
	t.Helper()
	if _, err := config.Parse("discovered.yaml", []byte(doc)); err != nil {
		t.Errorf("edgecam's configuration refuses the output: %v", err)
	}
}

func TestStreamOnAnotherHostIsNotProbedWithThePassword(t *testing.T) {
	// Any device on the LAN can answer a probe and name any stream
	// address; RTSP Basic authentication would hand that host the password.
	elsewhere := startCamera(t, testcamera.Options{Addr: "127.0.0.2:0", User: user, Pass: password})
	u, _ := url.Parse(elsewhere.URL())
	u.User = nil
	dev := startDevice(t, onviftest.Options{User: user, Password: password,
		Profiles: []onviftest.Profile{{Token: "p", Name: "main", Width: 1920, Height: 1080, URI: u.String()}}})
	cams := find(t, discover.Options{User: user, Password: password}, dev)
	m := cams[0].Main
	if cams[0].Err != nil || m == nil || m.Probe != nil || m.ProbeErr == nil || !strings.Contains(m.ProbeErr.Error(), "not probed") {
		t.Fatalf("camera %+v, main %+v; want the stream listed but not probed", cams[0], m)
	}
	if n := elsewhere.SessionCount(); n != 0 {
		t.Fatalf("the other host saw %d sessions", n)
	}
}

func TestH265StreamIsListedWithItsCodec(t *testing.T) {
	h265 := startCamera(t, testcamera.Options{User: user, Pass: password, Codec: "h265", Clip: hevc.Clip()})
	u, _ := url.Parse(h265.URL())
	u.User = nil
	dev := startDevice(t, onviftest.Options{User: user, Password: password,
		Profiles: []onviftest.Profile{{Token: "p", Name: "mainStream", Encoding: "H265", Width: 2560, Height: 1440, URI: u.String()}}})
	cams := find(t, discover.Options{User: user, Password: password}, dev)
	var out bytes.Buffer
	if err := discover.WriteYAML(&out, cams, discover.Output{User: user}); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, out.String()); len(e) != 1 || !strings.Contains(out.String(), "H265 Main 640x360 25 fps") ||
		!strings.Contains(out.String(), "H.265 plays over WebRTC only in browsers that decode it") {
		t.Fatalf("want one entry with the codec in a comment:\n%s", out.String())
	}
}
