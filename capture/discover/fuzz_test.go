package discover

import (
	"bytes"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/onvif"
)

// validName is edgecam's rule for camera names (daemon/config).
var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// FuzzWriteYAML feeds what a hostile device controls (its identity,
// scopes, profile names, stream address and error texts) to the YAML
// writer: the output must stay valid YAML with one entry per usable
// device, valid unique names, and no password.
func FuzzWriteYAML(f *testing.F) {
	f.Add("HIKVISION", "DS-2CD2143G2-I", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I", "mainStream", "rtsp://10.0.0.5:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1", "SOAP fault env:Sender/ter:NotAuthorized")
	f.Add("AXIS", "P1375", "onvif://www.onvif.org/name/Press%201%0A-%20name:%20x", "profile_1 h264", "rtsp://10.0.0.21/axis-media/media.amp?videocodec=h264 #x", "timeout\n  - name: evil")
	f.Add("", "", "onvif://www.onvif.org/name/%E2%80%A8", "", "rtsp://[fe80::1%25eth0]/x: y", "")
	f.Add("\u0086\ufffe", "\u0099", "\x85", "\ufeff", "rtsp://cam/\u00a0", "\u009b[2J")
	f.Fuzz(func(t *testing.T, manufacturer, model, scope, profile, uri, errText string) {
		const pw = "pw-Zq9"
		info := onvif.DeviceInfo{Manufacturer: manufacturer, Model: model, Firmware: profile}
		st := &Stream{Profile: onvif.Profile{Name: profile, Token: profile, Encoding: manufacturer}, URI: uri,
			Probe: &capture.ProbeResult{Tracks: []string{"video " + model}, Problems: []string{errText}}}
		cams := []Camera{
			{XAddr: "http://10.0.0.5/onvif/device_service", Endpoint: scope, Info: info, Scopes: []string{scope}, Main: st, Sub: st},
			{XAddr: "http://10.0.0.6/onvif/device_service", Info: info, Scopes: []string{scope}, Main: &Stream{URI: uri, ProbeErr: errors.New(errText)}},
			{XAddr: uri, Endpoint: profile, Err: errors.New(errText)},
		}
		var out bytes.Buffer
		if err := WriteYAML(&out, cams, Output{User: "admin", Password: pw}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Cameras []map[string]string `yaml:"cameras"`
		}
		if err := yaml.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, out.String())
		}
		want := 2
		if !printable(uri) {
			want = 0 // listed as not added, in comments
		}
		if len(doc.Cameras) != want {
			t.Fatalf("%d entries; want %d:\n%s", len(doc.Cameras), want, out.String())
		}
		seen := map[string]bool{}
		for _, c := range doc.Cameras {
			if !validName.MatchString(c["name"]) || seen[c["name"]] {
				t.Fatalf("name %q is not a valid unique camera name", c["name"])
			}
			seen[c["name"]] = true
		}
		if want := streamURL(uri, "admin", pw, false); len(doc.Cameras) > 0 && doc.Cameras[0]["url"] != want {
			t.Fatalf("url %q; want %q", doc.Cameras[0]["url"], want)
		}
		if strings.Contains(out.String(), pw) || strings.Contains(out.String(), url.QueryEscape(pw)) {
			t.Fatal("the password is in the output")
		}
	})
}

func TestScalarReadsBackAsTheSameString(t *testing.T) {
	for _, s := range []string{"press-1", "null", "true", "123", "0x1f", "~", "", "rtsp://admin@10.0.0.5:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1",
		"rtsp://cam/x #y", "rtsp://cam/x: y", "- a", "'q'", `"q"`, "a\\b", "ü\u00a0x", "{a}", "[a]", "*ref", "&anchor", "!tag", "%x", "@x", "`x", "|", ">"} {
		var v struct {
			V string `yaml:"v"`
		}
		if err := yaml.Unmarshal([]byte("v: "+scalar(s)), &v); err != nil || v.V != s {
			t.Errorf("%q written as %s reads back as %q (%v)", s, scalar(s), v.V, err)
		}
	}
}
