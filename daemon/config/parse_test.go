package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReportsWhereTheFileIsWrong(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, in any order
	}{
		{
			name: "unknown top-level key",
			yaml: "http:\n  listen: \":8080\"\nwebrtcc:\n  udp_port: 8189\n",
			want: []string{`config.yaml:3: webrtcc: unknown key "webrtcc"`, "valid keys here are http, webrtc, log, jpeg, auth, debug, cameras"},
		},
		{
			name: "unknown key in a camera",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    fps: 25\n",
			want: []string{`config.yaml:4: cameras[0].fps: unknown key "fps"`, "connect_timeout"},
		},
		{
			name: "wrong type",
			yaml: "webrtc:\n  max_viewers: lots\n",
			want: []string{`config.yaml:2: webrtc.max_viewers: expected a whole number, got the string "lots"`},
		},
		{
			name: "camera list is a mapping",
			yaml: "cameras:\n  press-1: rtsp://cam/\n",
			want: []string{"config.yaml:2: cameras: expected a list of cameras, got a mapping"},
		},
		{
			name: "duplicate camera name",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://a/\n  - name: press-2\n    url: rtsp://b/\n  - name: press-1\n    url: rtsp://c/\n",
			want: []string{`config.yaml:6: cameras[2].name: duplicate "press-1" (first at line 2)`},
		},
		{
			name: "duplicate yaml key",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://a/\n    url: rtsp://b/\n",
			want: []string{"config.yaml:4: cameras[0].url: duplicate key (first at line 3)"},
		},
		{
			name: "malformed name",
			yaml: "cameras:\n  - name: Press 1\n    url: rtsp://a/\n",
			want: []string{`config.yaml:2: cameras[0].name: "Press 1" must be lowercase letters, digits and '-'`},
		},
		{
			name: "name ending in a dash",
			yaml: "cameras:\n  - name: press-\n    url: rtsp://a/\n",
			want: []string{`config.yaml:2: cameras[0].name: "press-" must not start or end with '-'`},
		},
		{
			name: "non-rtsp url",
			yaml: "cameras:\n  - name: press-1\n    url: http://admin:" + secret + "@cam/\n",
			want: []string{`config.yaml:3: cameras[0].url: scheme "http" is not rtsp or rtsps`},
		},
		{
			name: "missing url points at the camera entry",
			yaml: "log:\n  level: info\ncameras:\n  - name: press-1\n    transport: tcp\n",
			want: []string{"config.yaml:4: cameras[0].url: missing"},
		},
		{
			name: "missing name points at the camera entry",
			yaml: "cameras:\n  - url: rtsp://cam/\n",
			want: []string{"config.yaml:2: cameras[0].name: missing"},
		},
		{
			name: "empty camera entry",
			yaml: "cameras:\n  -\n  - name: press-1\n    url: rtsp://cam/\n",
			want: []string{"config.yaml:2: cameras[0]: empty camera entry"},
		},
		{
			name: "bad port in url",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "@cam:70000/\n",
			want: []string{"config.yaml:3: cameras[0].url: port 70000 is not a valid port"},
		},
		{
			name: "unencoded character in password",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "?x@cam/\n",
			want: []string{"config.yaml:3: cameras[0].url: rtsp://admin:***@cam/ is not a valid URL", "percent-encode"},
		},
		{
			name: "password with a character that hides it",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://admin:12?" + secret + "@cam/\n",
			want: []string{"config.yaml:3: cameras[0].url: rtsp://admin:***@cam/ has an '@' outside", "percent-encode"},
		},
		{
			name: "bad udp_port",
			yaml: "webrtc:\n  hosts: [10.0.0.1]\n  udp_port: 70000\n",
			want: []string{"config.yaml:3: webrtc.udp_port: 70000 is not a valid port"},
		},
		{
			name: "bad ice host",
			yaml: "webrtc:\n  hosts:\n    - 10.0.0.1\n    - not a host\n",
			want: []string{`config.yaml:4: webrtc.hosts[1]: "not a host" is not an IP address or hostname`},
		},
		{
			name: "bad transport",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    transport: quic\n",
			want: []string{`config.yaml:4: cameras[0].transport: "quic" is not one of auto, tcp, udp`},
		},
		{
			name: "bad codec",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    codec: hevc\n",
			want: []string{`config.yaml:4: cameras[0].codec: "hevc" is not one of auto, h264, h265`},
		},
		{
			name: "empty codec",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    codec: \"\"\n",
			want: []string{`config.yaml:4: cameras[0].codec: is empty; use auto, h264 or h265, or remove the key for "auto"`},
		},
		{
			name: "bad duration",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    read_timeout: 5 seconds\n",
			want: []string{`config.yaml:4: cameras[0].read_timeout: "5 seconds" is not a duration`},
		},
		{
			name: "duration without unit",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    connect_timeout: 5\n",
			want: []string{`config.yaml:4: cameras[0].connect_timeout: "5" is not a duration`},
		},
		{
			name: "negative duration",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    connect_timeout: -1s\n",
			want: []string{`config.yaml:4: cameras[0].connect_timeout: "-1s" is negative`},
		},
		{
			name: "explicit zero is not silently replaced by the default",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    max_viewers: 0\n",
			want: []string{"config.yaml:4: cameras[0].max_viewers: 0 must be at least 1"},
		},
		{
			name: "bad log level",
			yaml: "log:\n  level: verbose\n",
			want: []string{`config.yaml:2: log.level: "verbose" is not one of debug, info, warn, error`},
		},
		{
			name: "top level is not a mapping",
			yaml: "- name: press-1\n",
			want: []string{"config.yaml:1: the top level must be a mapping", "not a list"},
		},
		{
			name: "tab indentation",
			yaml: "cameras:\n\t- name: press-1\n",
			want: []string{"config.yaml:2: invalid YAML", "not tabs"},
		},
		{
			name: "several errors are reported together",
			yaml: "webrtc:\n" +
				"  udp_port: 70000\n" + // 2
				"cameras:\n" +
				"  - name: press-1\n" + // 4
				"    url: rtsp://admin:" + secret + "@cam/\n" +
				"    colour: red\n" + // 6
				"  - name: Press-2\n" + // 7
				"    url: rtsps://admin:" + secret + "@cam:99999/\n" + // 8
				"  - name: press-1\n" + // 9
				"    url: ftp://admin:" + secret + "@cam/\n" + // 10
				"    read_timeout: soon\n", // 11
			want: []string{
				"config.yaml:2: webrtc.udp_port: 70000",
				`config.yaml:6: cameras[0].colour: unknown key "colour"`,
				`config.yaml:7: cameras[1].name: "Press-2" must be lowercase`,
				"config.yaml:8: cameras[1].url: port 99999",
				`config.yaml:9: cameras[2].name: duplicate "press-1" (first at line 4)`,
				`config.yaml:10: cameras[2].url: scheme "ftp"`,
				`config.yaml:11: cameras[2].read_timeout: "soon" is not a duration`,
			},
		},
		{
			name: "url pasted as a camera entry",
			yaml: "cameras:\n  - rtsp://admin:" + secret + "@cam/\n",
			want: []string{`config.yaml:2: cameras[0]: expected a camera`, `"rtsp://admin:***@cam/"`},
		},
		{
			name: "url pasted into a number",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    max_viewers: rtsp://admin:" + secret + "@cam/\n",
			want: []string{"config.yaml:4: cameras[0].max_viewers: expected a whole number", "admin:***@"},
		},
		{
			name: "url pasted as a key",
			yaml: "cameras:\n  - name: press-1\n    url: rtsp://cam/\n    rtsp://admin:" + secret + "@cam/: x\n",
			want: []string{"config.yaml:4: cameras[0].rtsp://admin:***@cam/: unknown key"},
		},
		{
			name: "second document",
			yaml: "log:\n  level: info\n---\nlog:\n  level: debug\n",
			want: []string{"config.yaml:4: a second YAML document"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("config.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted bad input, got %+v", cfg)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error leaks the password:\n%s", msg)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *Errors", err)
			}
			if got := len(strings.Split(msg, "\n")); got != len(errs.Problems) {
				t.Errorf("Error() has %d lines for %d problems", got, len(errs.Problems))
			}
			for _, p := range errs.Problems {
				if p.File != "config.yaml" || p.Line == 0 {
					t.Errorf("problem not located: %+v", p)
				}
			}
		})
	}
}

func TestParseReportsEachProblemOnce(t *testing.T) {
	// A value that failed to decode must not also be reported as missing.
	_, err := Parse("config.yaml", []byte("cameras:\n  - name: [press-1]\n    url: rtsp://cam/\n"))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	if len(errs.Problems) != 1 {
		t.Errorf("got %d problems, want 1:\n%v", len(errs.Problems), err)
	}
}
