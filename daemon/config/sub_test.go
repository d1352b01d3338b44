package config

import (
	"strings"
	"testing"
)

func TestParseReadsACamerasSubStream(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte("cameras:\n"+
		"  - name: press-1\n"+
		"    url: rtsp://admin:"+secret+"@cam/main\n"+
		"    transport: udp\n"+
		"    sub_url: rtsp://admin:"+secret+"@cam/sub\n"+
		"  - name: press-2\n"+
		"    url: rtsp://cam2/main\n"+
		"    sub_url: rtsp://cam2/sub\n"+
		"    sub_transport: tcp\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Cameras[0], cfg.Cameras[1]
	if a.SubURL != "rtsp://admin:"+secret+"@cam/sub" || a.SubStreamTransport() != TransportUDP {
		t.Errorf("press-1: sub_url %q over %q, want the file's URL over the camera's transport udp", a.SubURL, a.SubStreamTransport())
	}
	if got := a.RedactedSubURL(); got != "rtsp://admin:***@cam/sub" {
		t.Errorf("RedactedSubURL = %q", got)
	}
	if b.SubStreamTransport() != TransportTCP {
		t.Errorf("press-2: sub-stream over %q, want sub_transport tcp", b.SubStreamTransport())
	}
}

func TestParseReportsABadSubStreamWithLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"bad scheme", "    sub_url: http://admin:" + secret + "@cam/sub\n", `config.yaml:4: cameras[0].sub_url: scheme "http" is not rtsp or rtsps`},
		{"bad port", "    sub_url: rtsp://admin:" + secret + "@cam:70000/sub\n", "config.yaml:4: cameras[0].sub_url: port 70000 is not a valid port"},
		{"unencoded password", "    sub_url: rtsp://admin:12?" + secret + "@cam/\n", "config.yaml:4: cameras[0].sub_url: rtsp://admin:***@cam/ has an '@' outside"},
		{"same as url", "    sub_url: rtsp://admin:" + secret + "@cam/main\n", `config.yaml:4: cameras[0].sub_url: "rtsp://admin:***@cam/main" is the same as url`},
		{"empty", "    sub_url: \"\"\n", "config.yaml:4: cameras[0].sub_url: is empty"},
		{"bad transport", "    sub_url: rtsp://cam/sub\n    sub_transport: quic\n", `config.yaml:5: cameras[0].sub_transport: "quic" is not one of auto, tcp, udp`},
		{"transport without url", "    sub_transport: tcp\n", "config.yaml:4: cameras[0].sub_transport: is set but the camera has no sub_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte("cameras:\n  - name: press-1\n    url: rtsp://admin:"+secret+"@cam/main\n"+tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the password:\n%s", err)
			}
		})
	}
}

func TestCameraEqualSeesTheSubStream(t *testing.T) {
	a := Camera{Name: "press-1", URL: "rtsp://cam/main", SubURL: "rtsp://cam/sub", MaxViewers: 4}
	for _, change := range []func(*Camera){
		func(c *Camera) { c.SubURL = "rtsp://cam/other" },
		func(c *Camera) { c.SubURL = "" },
		func(c *Camera) { c.SubTransport = TransportTCP },
	} {
		b := a
		change(&b)
		if a.Equal(b) {
			t.Errorf("%+v Equal %+v: a reload would keep the old sub-stream", a, b)
		}
	}
}
