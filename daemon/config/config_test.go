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

func TestParseFillsDefaults(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte("cameras:\n  - name: press-1\n    url: rtsp://cam/\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != ":8080" || cfg.WebRTC.UDPPort != 8189 || cfg.Log.Level != "info" ||
		cfg.HTTP.SessionsPerMinute != 300 || cfg.JPEG.MaxWidth != 1280 {
		t.Errorf("top-level defaults not filled: %+v", cfg)
	}
	// The components' defaults are theirs: unset keys stay zero here.
	if cfg.WebRTC.MaxViewers != 0 || cfg.JPEG != (JPEG{MaxWidth: 1280, MaxDecoders: 16}) || cfg.Auth.SessionTTL != 0 {
		t.Errorf("a component's default was filled in: %+v", cfg)
	}
	want := Camera{Name: "press-1", URL: "rtsp://cam/", MaxViewers: 16, Line: 2}
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

	// Without ApplyDefaults, zeros that have no default in a component are
	// problems, not silently valid.
	err = (&Config{Cameras: []Camera{{Name: "a", URL: "rtsp://cam/"}}}).Validate()
	for _, w := range []string{"http.listen", "http.sessions_per_minute", "http.connections_per_address", "log.level", "jpeg.max_width", "cameras[0].max_viewers"} {
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
	if a.FPS != 10 || !a.KeyframesOnly || a.Quality != 0 || a.MaxWidth != 1280 || a.FFmpeg != "" {
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
		mode       AuthMode
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
