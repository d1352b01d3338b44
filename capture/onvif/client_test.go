package onvif

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/onvif/onviftest"
)

func TestPasswordDigestMatchesTheONVIFProgrammersGuide(t *testing.T) {
	// The worked example of the ONVIF Application Programmer's Guide.
	nonce, _ := base64.StdEncoding.DecodeString("LKqI6G/AikKCQrN0zqZFlg==")
	if got := PasswordDigest(nonce, "2010-09-16T07:50:45Z", "userpassword"); got != "tuOSpGlFlIXsozq4HFNeeGeFLEI=" {
		t.Fatalf("digest %s", got)
	}
}

var testProfiles = []onviftest.Profile{
	{Token: "Profile_1", Name: "mainStream", Width: 1920, Height: 1080, FPS: 25, URI: "rtsp://192.0.2.10:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1"},
	{Token: "Profile_2", Name: "subStream", Width: 640, Height: 360, FPS: 15, URI: "rtsp://192.0.2.10:554/Streaming/Channels/102?transportmode=unicast&profile=Profile_2"},
}

func TestClientGetsStreamAddressesOrSaysWhyNot(t *testing.T) {
	tests := []struct {
		name       string
		device     onviftest.Options
		user, pass string
		wantErr    error
	}{
		{name: "UsernameToken", device: onviftest.Options{User: "admin", Password: "pw"}, user: "admin", pass: "pw"},
		{name: "HTTP digest", device: onviftest.Options{User: "admin", Password: "pw", HTTPDigest: true}, user: "admin", pass: "pw"},
		{name: "GetServices fallback", device: onviftest.Options{User: "admin", Password: "pw", NoCapabilities: true}, user: "admin", pass: "pw"},
		{name: "device without credentials", device: onviftest.Options{}},
		{name: "wrong password", device: onviftest.Options{User: "admin", Password: "pw"}, user: "admin", pass: "nope", wantErr: ErrNotAuthorized},
		{name: "wrong user", device: onviftest.Options{User: "admin", Password: "pw"}, user: "root", pass: "pw", wantErr: ErrNotAuthorized},
		{name: "wrong password over HTTP digest", device: onviftest.Options{User: "admin", Password: "pw", HTTPDigest: true}, user: "admin", pass: "nope", wantErr: ErrNotAuthorized},
		{name: "no credentials for HTTP digest", device: onviftest.Options{User: "admin", Password: "pw", HTTPDigest: true}, wantErr: ErrNotAuthorized},
		{name: "hung web service", device: onviftest.Options{NeverAnswer: true}, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.device.Profiles = testProfiles
			d, err := onviftest.Start(tt.device)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c := &Client{User: tt.user, Password: tt.pass, Timeout: 2 * time.Second}
			if tt.device.NeverAnswer {
				c.Timeout = 200 * time.Millisecond
			}
			ctx := context.Background()
			media, err := c.MediaAddress(ctx, d.XAddr())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v; want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ps, err := c.Profiles(ctx, media)
			if err != nil || len(ps) != 2 || ps[1] != (Profile{Token: "Profile_2", Name: "subStream", Encoding: "H264", Width: 640, Height: 360, FPS: 15}) {
				t.Fatalf("profiles %+v, %v", ps, err)
			}
			uri, err := c.StreamURI(ctx, media, "Profile_1")
			if err != nil || uri != testProfiles[0].URI {
				t.Fatalf("stream uri %q, %v", uri, err)
			}
			if _, err := c.StreamURI(ctx, media, "Profile_9"); err == nil || !strings.Contains(err.Error(), "InvalidArgVal") {
				t.Fatalf("unknown profile: %v; want the device's fault", err)
			}
		})
	}
}

func TestClientBoundsWhatADeviceSends(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"endless answer", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`<?xml version="1.0"?><Envelope><Body><GetProfilesResponse>`))
			chunk := []byte(strings.Repeat("<Profiles token=\"x\"/>", 1000))
			for range 100 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "larger than"},
		{"redirect elsewhere", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/steal", http.StatusFound)
		}, "HTTP 302"},
		{"not SOAP", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>login</html>")) }, "unreadable answer"},
		{"Basic challenge only", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="cam"`)
			w.WriteHeader(http.StatusUnauthorized)
		}, "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := &Client{User: "admin", Password: "pw", Timeout: 2 * time.Second}
			_, err := c.Profiles(context.Background(), srv.URL+"/onvif/Media")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one saying %q", err, tt.want)
			}
		})
	}
}

func TestDigestAuthorizationAnswersTheChallengesCamerasSend(t *testing.T) {
	c := &Client{User: "admin", Password: "pw"}
	for _, tt := range []struct{ challenge, want string }{
		{`Digest qop="auth", realm="IP Camera(C1234)", nonce="4e6a", stale="FALSE"`, `qop=auth, nc=00000001`},
		{`Digest realm="AXIS_ACCC8E000000", nonce="abc, def", algorithm=MD5, qop="auth"`, `nonce="abc, def"`},
		{`Digest realm="x", nonce="n", opaque="o"`, `opaque="o"`},
		{`Digest realm="x", nonce="n", algorithm=SHA-256`, ""},
		{`Basic realm="x"`, ""},
		{`Digest realm="x"`, ""},
		{``, ""},
	} {
		got, ok := c.digestAuthorization(tt.challenge, "POST", "/onvif/device_service")
		if ok != (tt.want != "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, %v; want one with %q", tt.challenge, got, ok, tt.want)
		}
	}
}
