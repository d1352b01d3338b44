package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secret is the password used in bad entries; it must never be printed.
const secret = "s3cret"

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

func TestParseFillsDefaults(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte("cameras:\n  - name: press-1\n    url: rtsp://cam/\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != ":8080" || cfg.WebRTC.UDPPort != 8189 || cfg.WebRTC.MaxViewers != 64 || cfg.Log.Level != "info" {
		t.Errorf("top-level defaults not filled: %+v", cfg)
	}
	want := Camera{Name: "press-1", URL: "rtsp://cam/", Transport: "auto",
		ConnectTimeout: Duration(5 * time.Second), ReadTimeout: Duration(5 * time.Second), MaxViewers: 16, StaleAfter: Duration(2 * time.Second), Line: 2}
	if len(cfg.Cameras) != 1 || cfg.Cameras[0] != want {
		t.Errorf("camera = %+v, want %+v", cfg.Cameras, want)
	}
}

func TestParseKeepsExplicitValues(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(`
webrtc:
  udp_port: 0          # any free port
  hosts: [203.0.113.10, cams.example.com]
  interfaces: [eth0, lo]
cameras:
  - name: yard-gate
    url: rtsps://cam.example.com:8443/s
    transport: tcp
    on_demand: true
    connect_timeout: 1m30s
    read_timeout: 500ms
    max_viewers: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebRTC.UDPPort != 0 {
		t.Errorf("udp_port = %d, want 0 (free port)", cfg.WebRTC.UDPPort)
	}
	c := cfg.Cameras[0]
	if c.Transport != "tcp" || !c.OnDemand || c.ConnectTimeout.D() != 90*time.Second ||
		c.ReadTimeout.D() != 500*time.Millisecond || c.MaxViewers != 2 || c.Line != 7 {
		t.Errorf("camera = %+v", c)
	}
}

func TestEmptyFileIsDefaultsWithoutCameras(t *testing.T) {
	for _, in := range []string{"", "\n", "# nothing yet\n", "---\n", "~\n", "cameras: []\n", "cameras:\n"} {
		cfg, err := Parse("config.yaml", []byte(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if len(cfg.Cameras) != 0 || cfg.HTTP.Listen != ":8080" || cfg.WebRTC.UDPPort != 8189 {
			t.Errorf("Parse(%q) = %+v, want defaults", in, cfg)
		}
	}
}

func TestExampleConfigParses(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Cameras) != 2 || cfg.Cameras[0].Name != "press-1" || !cfg.Cameras[1].OnDemand || cfg.Cameras[1].Transport != "tcp" {
		t.Errorf("unexpected example cameras: %+v", cfg.Cameras)
	}
}

func TestLoadPrefixesMessagesWithThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecam.yaml")
	if err := os.WriteFile(path, []byte("log:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2: log.level:") {
		t.Errorf("err = %v, want it to start with %s:2: log.level:", err, path)
	}

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("err = %v, want a not-exist error naming the file", err)
	}
}

func TestValidateChecksConfigsBuiltInCode(t *testing.T) {
	cfg := &Config{Cameras: []Camera{
		{Name: "press-1", URL: "rtsp://admin:" + secret + "@cam/"},
		{Name: "press-1", URL: "rtsp://admin:" + secret + "@cam/"},
	}}
	cfg.ApplyDefaults()
	if cfg.WebRTC.UDPPort != 0 {
		t.Errorf("ApplyDefaults changed udp_port 0 (free port) to %d", cfg.WebRTC.UDPPort)
	}
	err := cfg.Validate()
	if err == nil || err.Error() != `cameras[1].name: duplicate "press-1" (first at cameras[0])` {
		t.Errorf("err = %v", err)
	}

	cfg.Cameras = cfg.Cameras[:1]
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}

	// Without ApplyDefaults, zero values are problems, not silently valid.
	err = (&Config{Cameras: []Camera{{Name: "a", URL: "rtsp://cam/"}}}).Validate()
	for _, w := range []string{"http.listen", "webrtc.max_viewers", "log.level", "cameras[0].transport", "cameras[0].connect_timeout", "cameras[0].read_timeout", "cameras[0].max_viewers"} {
		if err == nil || !strings.Contains(err.Error(), w+":") {
			t.Errorf("Validate of zero values does not report %s: %v", w, err)
		}
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Error(err)
	}
}

func TestRedactedURLHidesThePassword(t *testing.T) {
	c := Camera{URL: "rtsp://admin:" + secret + "@cam/"}
	if got := c.RedactedURL(); got != "rtsp://admin:***@cam/" {
		t.Errorf("RedactedURL = %q", got)
	}
}

func TestCameraEqualIgnoresLine(t *testing.T) {
	a := Camera{Name: "press-1", URL: "rtsp://cam/", Transport: "tcp", MaxViewers: 4, Line: 3}
	b := a
	b.Line = 30
	if !a.Equal(b) {
		t.Error("cameras that only moved in the file are not Equal")
	}
	b.ReadTimeout = Duration(time.Second)
	if a.Equal(b) {
		t.Error("cameras with different read_timeout are Equal")
	}
}

func TestDurationFormatsLikeTimeDuration(t *testing.T) {
	d := Duration(90 * time.Second)
	if d.String() != "1m30s" || d.D() != 90*time.Second {
		t.Errorf("got %s / %v", d, d.D())
	}
	if v, _ := d.MarshalYAML(); v != "1m30s" {
		t.Errorf("MarshalYAML = %v", v)
	}
}

func TestJPEGSettings(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`jpeg:
  fps: 10
  keyframes_only: true
cameras:
  - name: a
    url: rtsp://10.0.0.1/s
  - name: b
    url: rtsp://10.0.0.2/s
    jpeg:
      quality: 40
      keyframes_only: false
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.JPEGFor(cfg.Cameras[0]), cfg.JPEGFor(cfg.Cameras[1])
	if a.FPS != 10 || !a.KeyframesOnly || a.Quality != 75 || a.MaxWidth != 1280 || a.FFmpeg != "ffmpeg" {
		t.Errorf("camera a: %+v", a)
	}
	if b.FPS != 10 || b.KeyframesOnly || b.Quality != 40 {
		t.Errorf("camera b: %+v", b)
	}

	_, err = Parse("c.yaml", []byte(`jpeg:
  fps: 100
  hwaccel: cuda
cameras:
  - name: a
    url: rtsp://10.0.0.1/s
    jpeg:
      quality: 0
`))
	for _, want := range []string{"c.yaml:2: jpeg.fps: 100", "c.yaml:3: jpeg.hwaccel", "c.yaml:8: cameras[0].jpeg.quality: 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q; got %v", want, err)
		}
	}
}

func TestAuthSettings(t *testing.T) {
	hash := "$2a$10$" + strings.Repeat("a", 53)
	for _, tc := range []struct {
		name, yaml string
		mode       string
		parseErr   string
		accessErr  bool
	}{
		{"loopback needs no users", "http: {listen: \"127.0.0.1:8080\"}\n", AuthNone, "", false},
		{"network listener without users is refused", "http: {listen: \":8080\"}\n", AuthUsers, "", true},
		{"auth: none shorthand", "auth: none\n", AuthNone, "", false},
		{"mapping form", "auth:\n  mode: none\n", AuthNone, "", false},
		{"users", "auth:\n  users:\n    - name: op\n      password_hash: \"" + hash + "\"\n", AuthUsers, "", false},
		{"unknown key in auth", "auth:\n  mode: none\n  pasword: x\n", "", "f.yaml:3: auth.pasword: unknown key", false},
		{"bad mode", "auth: maybe\n", "", "auth.mode", false},
		{"bad hash", "auth:\n  users:\n    - name: op\n      password_hash: hunter2\n", "", "f.yaml:4: auth.users[0].password_hash: is not a bcrypt hash", false},
		{"tls needs both", "http:\n  tls:\n    cert: /etc/edgecam/cert.pem\n", "", "http.tls", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("f.yaml", []byte(tc.yaml))
			if tc.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.parseErr) {
					t.Fatalf("error %v, want %q", err, tc.parseErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatal("the password appears in the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Auth.EffectiveMode(cfg.HTTP.Listen); got != tc.mode {
				t.Errorf("mode %q, want %q", got, tc.mode)
			}
			if got := cfg.CheckAccess() != nil; got != tc.accessErr {
				t.Errorf("CheckAccess error = %v, want error %v", cfg.CheckAccess(), tc.accessErr)
			}
		})
	}
}
