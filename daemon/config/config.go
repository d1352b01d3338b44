// Package config reads, defaults and validates edgecam's YAML configuration.
//
// The file is written by hand by a plant engineer, so every mistake must be
// reported with the file name, the line and the key path that is wrong, and
// all mistakes are reported at once: fixing one problem per restart is
// miserable on a headless box. Camera URLs carry credentials, so nothing in
// this package ever prints a password (see package redact).
//
// The flow is Load (or Parse) → ApplyDefaults → Validate; Load and Parse do
// all three. Configs built in code (tests, demos) should call ApplyDefaults
// and Validate themselves.
package config

import (
	"fmt"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgecam/edgecam/capture/redact"
)

// Defaults. They live in one place so Default, ApplyDefaults and the messages
// that tell the user how to get a default cannot drift apart.
const (
	defaultListen           = ":8080"
	defaultUDPPort          = 8189
	defaultWebRTCMaxViewers = 64
	defaultLogLevel         = "info"
	defaultTransport        = "auto"
	defaultTimeout          = Duration(5 * time.Second)
	defaultCameraMaxViewers = 16
	defaultFFmpeg           = "ffmpeg"
	defaultJPEGFPS          = 5
	defaultJPEGMaxWidth     = 1280
	defaultJPEGQuality      = 75
	defaultJPEGIdleStop     = Duration(5 * time.Second)
	maxJPEGFPS              = 30
)

// Config is the whole configuration file. Its zero value plus ApplyDefaults is
// a valid configuration with no cameras.
type Config struct {
	HTTP    HTTP     `yaml:"http"`
	WebRTC  WebRTC   `yaml:"webrtc"`
	Log     Log      `yaml:"log"`
	JPEG    JPEG     `yaml:"jpeg"`
	Auth    Auth     `yaml:"auth"`
	Debug   Debug    `yaml:"debug"`
	Cameras []Camera `yaml:"cameras"`
}

// Debug holds settings for troubleshooting; all are off by default.
type Debug struct {
	// PprofListen serves Go's profiler (/debug/pprof/) on this address. It
	// must be a loopback address: profiles expose memory contents.
	PprofListen string `yaml:"pprof_listen"`
}

// JPEG configures the JPEG fallbacks (MJPEG, WebSocket, snapshots). A
// camera's JPEG is decoded by ffmpeg only while someone asks for it.
type JPEG struct {
	// FFmpeg is the ffmpeg executable, a name looked up in PATH or a path.
	FFmpeg string `yaml:"ffmpeg"`
	// FPS is the decoder's output rate and the most a viewer may ask for.
	// Default 5; at most 30.
	FPS float64 `yaml:"fps"`
	// MaxWidth scales larger pictures down (aspect kept) and caps the width
	// a viewer may ask for. Default 1280.
	MaxWidth int `yaml:"max_width"`
	// Quality is the default JPEG quality, 1 (worst) to 100. Default 75.
	Quality int `yaml:"quality"`
	// KeyframesOnly decodes only the camera's keyframes: about one picture
	// per GOP, for a small fraction of the CPU. For weak boards.
	KeyframesOnly bool `yaml:"keyframes_only"`
	// HWAccel names a hardware decoder: "" (software) or "v4l2m2m"
	// (Raspberry Pi and other V4L2 M2M SoCs). edgecam falls back to
	// software when it does not work.
	HWAccel string `yaml:"hwaccel"`
	// IdleStop is how long a decoder runs on after its last viewer left.
	IdleStop Duration `yaml:"idle_stop"`
}

// JPEGOverride changes the JPEG settings for one camera; unset keys keep
// the global jpeg section's values.
type JPEGOverride struct {
	FPS           *float64 `yaml:"fps"`
	MaxWidth      *int     `yaml:"max_width"`
	Quality       *int     `yaml:"quality"`
	KeyframesOnly *bool    `yaml:"keyframes_only"`
	HWAccel       *string  `yaml:"hwaccel"`
}

// sets reports whether the override sets the key.
func (o JPEGOverride) sets(key string) bool {
	switch key {
	case "fps":
		return o.FPS != nil
	case "max_width":
		return o.MaxWidth != nil
	case "quality":
		return o.Quality != nil
	case "hwaccel":
		return o.HWAccel != nil
	}
	return false
}

// JPEGFor returns the JPEG settings of cam: the global section with the
// camera's overrides applied.
func (c *Config) JPEGFor(cam Camera) JPEG {
	j := c.JPEG
	o := cam.JPEG
	if o.FPS != nil {
		j.FPS = *o.FPS
	}
	if o.MaxWidth != nil {
		j.MaxWidth = *o.MaxWidth
	}
	if o.Quality != nil {
		j.Quality = *o.Quality
	}
	if o.KeyframesOnly != nil {
		j.KeyframesOnly = *o.KeyframesOnly
	}
	if o.HWAccel != nil {
		j.HWAccel = *o.HWAccel
	}
	return j
}

// HTTP configures the web server that serves the viewer page and WHEP.
type HTTP struct {
	// Listen is the host:port to listen on, default ":8080" (all addresses).
	Listen string `yaml:"listen"`
	// TLS, when both paths are set, serves HTTPS with this certificate and
	// key (PEM files).
	TLS TLS `yaml:"tls"`
	// SessionsPerMinute caps new viewer sessions (WHEP, MJPEG, WebSocket)
	// from one client address per minute. Default 300.
	SessionsPerMinute int `yaml:"sessions_per_minute"`
}

// TLS names a certificate and its key.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// WebRTC configures how media reaches browsers.
type WebRTC struct {
	// UDPPort is the single UDP port all WebRTC media is multiplexed on, so a
	// firewall needs one rule. Default 8189. 0 means "pick a free port",
	// which tests use to run in parallel; it is accepted from YAML too.
	UDPPort int `yaml:"udp_port"`
	// Hosts are extra IP addresses or hostnames announced as ICE host
	// candidates, for viewers that reach the box through 1:1 NAT.
	Hosts []string `yaml:"hosts"`
	// Interfaces limits WebRTC media to these network interfaces (e.g.
	// "eth0"), so a camera-only network is never offered to viewers.
	// Empty means all interfaces that are up.
	Interfaces []string `yaml:"interfaces"`
	// MaxViewers caps WebRTC sessions across all cameras, default 64, so a
	// small box cannot be overloaded by open browser tabs.
	MaxViewers int `yaml:"max_viewers"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error; default info.
	Level string `yaml:"level"`
}

// Camera is one IP camera to pull video from.
type Camera struct {
	// Name identifies the camera in URLs, logs and metrics, so it is
	// restricted to lowercase letters, digits and '-' (1..63 characters, not
	// starting or ending with '-') and must be unique.
	Name string `yaml:"name"`
	// URL is the rtsp:// or rtsps:// address, usually with user:password.
	// Print it only through RedactedURL.
	URL string `yaml:"url"`
	// Transport is auto (default: try UDP, fall back to TCP), tcp or udp.
	Transport string `yaml:"transport"`
	// OnDemand pulls the stream only while someone watches, to spare
	// cameras and links that are rarely viewed.
	OnDemand bool `yaml:"on_demand"`
	// Disabled keeps the camera in the file without starting it.
	Disabled bool `yaml:"disabled"`
	// ConnectTimeout bounds connecting and starting playback; default 5s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// ReadTimeout is how long no packets may arrive before the stream is
	// considered stalled and reconnected; default 5s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// MaxViewers caps WebRTC sessions on this camera; default 16.
	MaxViewers int `yaml:"max_viewers"`
	// StaleAfter is how long the camera may send no frame, with its RTSP
	// session up, before it is shown as stale. Default 2s.
	StaleAfter Duration `yaml:"stale_after"`
	// JPEG overrides the global jpeg section for this camera.
	JPEG JPEGOverride `yaml:"jpeg"`
	// Line is the line of this camera's entry in the file, filled by Parse,
	// so later messages (e.g. on reload) can point at it. 0 when built in code.
	Line int `yaml:"-"`
}

// RedactedURL returns the camera URL with its password replaced by "***",
// for logs and error messages.
func (c Camera) RedactedURL() string { return redact.URL(c.URL) }

// Equal reports whether two cameras have the same settings, ignoring Line,
// so a reload can restart only the cameras that changed and not those that
// merely moved in the file.
func (c Camera) Equal(o Camera) bool {
	// Comparing whole structs keeps this correct when fields are added;
	// DeepEqual because the JPEG overrides are pointers.
	c.Line, o.Line = 0, 0
	return reflect.DeepEqual(c, o)
}

// Duration is a time.Duration that reads from YAML strings such as "5s" or
// "1m30s". A separate type is needed because yaml.v3 would otherwise read a
// bare integer as nanoseconds and reject "5s".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration, e.g. "5s".
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a duration string. It rejects unparsable and negative
// values; its errors are yaml.TypeErrors so that decoding continues and every
// problem in the file is reported at once.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErrorf(n, "expected a duration such as \"5s\", got %s", describeNode(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return typeErrorf(n, "%s is not a duration; write a number with a unit, e.g. \"5s\" or \"1m30s\"", quote(n.Value))
	}
	if v < 0 {
		return typeErrorf(n, "%s is negative; durations must be greater than 0", quote(n.Value))
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d back as a string such as "5s", so a dumped config
// reads the same way it is written.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func typeErrorf(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

// Default returns the default configuration with no cameras.
func Default() *Config {
	return &Config{
		HTTP:   HTTP{Listen: defaultListen, SessionsPerMinute: 300},
		WebRTC: WebRTC{UDPPort: defaultUDPPort, MaxViewers: defaultWebRTCMaxViewers},
		Log:    Log{Level: defaultLogLevel},
		JPEG: JPEG{
			FFmpeg:   defaultFFmpeg,
			FPS:      defaultJPEGFPS,
			MaxWidth: defaultJPEGMaxWidth,
			Quality:  defaultJPEGQuality,
			IdleStop: defaultJPEGIdleStop,
		},
	}
}

// ApplyDefaults fills every unset (zero) field with its default.
//
// WebRTC.UDPPort is left alone: 0 is meaningful there ("pick a free port"),
// so its default of 8189 comes from Default and from Parse instead.
func (c *Config) ApplyDefaults() {
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = defaultListen
	}
	if c.HTTP.SessionsPerMinute == 0 {
		c.HTTP.SessionsPerMinute = 300
	}
	if c.WebRTC.MaxViewers == 0 {
		c.WebRTC.MaxViewers = defaultWebRTCMaxViewers
	}
	if c.Log.Level == "" {
		c.Log.Level = defaultLogLevel
	}
	if c.JPEG.FFmpeg == "" {
		c.JPEG.FFmpeg = defaultFFmpeg
	}
	if c.JPEG.FPS == 0 {
		c.JPEG.FPS = defaultJPEGFPS
	}
	if c.JPEG.MaxWidth == 0 {
		c.JPEG.MaxWidth = defaultJPEGMaxWidth
	}
	if c.JPEG.Quality == 0 {
		c.JPEG.Quality = defaultJPEGQuality
	}
	if c.JPEG.IdleStop == 0 {
		c.JPEG.IdleStop = defaultJPEGIdleStop
	}
	if c.Auth.SessionTTL == 0 {
		c.Auth.SessionTTL = Duration(12 * time.Hour)
	}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		if cam.Transport == "" {
			cam.Transport = defaultTransport
		}
		if cam.ConnectTimeout == 0 {
			cam.ConnectTimeout = defaultTimeout
		}
		if cam.ReadTimeout == 0 {
			cam.ReadTimeout = defaultTimeout
		}
		if cam.MaxViewers == 0 {
			cam.MaxViewers = defaultCameraMaxViewers
		}
		if cam.StaleAfter == 0 {
			cam.StaleAfter = Duration(2 * time.Second)
		}
	}
}

// Validate reports every semantic problem at once as an *Errors, or nil.
// It does not apply defaults, so zero values are reported as problems; call
// ApplyDefaults first for configs built in code. Problems carry key paths
// such as "cameras[1].url"; Parse adds the file name and line.
func (c *Config) Validate() error {
	var errs Errors
	add := func(key, format string, args ...any) {
		errs.Problems = append(errs.Problems, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	if err := checkListen(c.HTTP.Listen); err != "" {
		add("http.listen", "%s is not a valid listen address (%s); use host:port, e.g. \":8080\"", quote(c.HTTP.Listen), err)
	}

	if p := c.WebRTC.UDPPort; p < 0 || p > 65535 {
		add("webrtc.udp_port", "%d is not a valid port (1..65535, or 0 for any free port)", p)
	}
	for i, h := range c.WebRTC.Hosts {
		if net.ParseIP(h) == nil && !isHostname(h) {
			add(fmt.Sprintf("webrtc.hosts[%d]", i), "%s is not an IP address or hostname", quote(h))
		}
	}
	for i, name := range c.WebRTC.Interfaces {
		// Linux interface names are at most 15 bytes and cannot contain '/'
		// or whitespace. Existence is not checked: `edgecam check` may run
		// on another machine than the one that will use the file.
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/: \t") {
			add(fmt.Sprintf("webrtc.interfaces[%d]", i), "%s is not a network interface name (e.g. \"eth0\")", quote(name))
		}
	}
	if c.WebRTC.MaxViewers < 1 {
		add("webrtc.max_viewers", "%d must be at least 1", c.WebRTC.MaxViewers)
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%s is not one of debug, info, warn, error", quote(c.Log.Level))
	}

	checkJPEG := func(p string, j JPEG) {
		if j.FPS <= 0 || j.FPS > maxJPEGFPS {
			add(p+".fps", "%g must be greater than 0 and at most %d", j.FPS, maxJPEGFPS)
		}
		if j.MaxWidth < 16 || j.MaxWidth > 7680 {
			add(p+".max_width", "%d must be between 16 and 7680", j.MaxWidth)
		}
		if j.Quality < 1 || j.Quality > 100 {
			add(p+".quality", "%d must be between 1 and 100", j.Quality)
		}
		switch j.HWAccel {
		case "", "v4l2m2m":
		default:
			add(p+".hwaccel", "%s is not one of \"\" (software) or v4l2m2m", quote(j.HWAccel))
		}
	}
	if c.JPEG.FFmpeg == "" {
		add("jpeg.ffmpeg", "is empty; remove the key to use \"ffmpeg\" from PATH")
	}
	if c.JPEG.IdleStop <= 0 {
		add("jpeg.idle_stop", "%s must be greater than 0", c.JPEG.IdleStop)
	}
	checkJPEG("jpeg", c.JPEG)
	if c.HTTP.SessionsPerMinute < 1 {
		add("http.sessions_per_minute", "%d must be at least 1", c.HTTP.SessionsPerMinute)
	}
	if (c.HTTP.TLS.Cert == "") != (c.HTTP.TLS.Key == "") {
		add("http.tls", "set both cert and key, or neither")
	}
	c.validateAuth(add)
	if p := c.Debug.PprofListen; p != "" {
		if msg := checkListen(p); msg != "" {
			add("debug.pprof_listen", "%s is not a valid listen address (%s)", quote(p), msg)
		} else if !IsLoopback(p) {
			add("debug.pprof_listen", "%s must be a loopback address such as \"127.0.0.1:6060\": profiles expose memory contents", quote(p))
		}
	}

	firstByName := map[string]int{}
	for i, cam := range c.Cameras {
		p := fmt.Sprintf("cameras[%d]", i)
		if msg := checkName(cam.Name); msg != "" {
			add(p+".name", "%s", msg)
		} else if j, dup := firstByName[cam.Name]; dup {
			where := fmt.Sprintf("cameras[%d]", j)
			if l := c.Cameras[j].Line; l > 0 {
				where = fmt.Sprintf("line %d", l)
			}
			add(p+".name", "duplicate %s (first at %s)", quote(cam.Name), where)
		} else {
			firstByName[cam.Name] = i
		}

		if msg := checkCameraURL(cam.URL); msg != "" {
			add(p+".url", "%s", msg)
		}
		switch cam.Transport {
		case "auto", "tcp", "udp":
		default:
			add(p+".transport", "%s is not one of auto, tcp, udp", quote(cam.Transport))
		}
		if cam.ConnectTimeout <= 0 {
			add(p+".connect_timeout", "%s must be greater than 0", cam.ConnectTimeout)
		}
		if cam.ReadTimeout <= 0 {
			add(p+".read_timeout", "%s must be greater than 0", cam.ReadTimeout)
		}
		if cam.MaxViewers < 1 {
			add(p+".max_viewers", "%d must be at least 1", cam.MaxViewers)
		}
		if cam.StaleAfter <= 0 {
			add(p+".stale_after", "%s must be greater than 0", cam.StaleAfter)
		}
		if cam.JPEG != (JPEGOverride{}) {
			// Report only what the camera itself got wrong; the global
			// section's problems are already listed.
			before := len(errs.Problems)
			checkJPEG(p+".jpeg", c.JPEGFor(cam))
			kept := errs.Problems[:before]
			for _, pr := range errs.Problems[before:] {
				if cam.JPEG.sets(strings.TrimPrefix(pr.Key, p+".jpeg.")) {
					kept = append(kept, pr)
				}
			}
			errs.Problems = kept
		}
	}

	if len(errs.Problems) == 0 {
		return nil // untyped nil: a nil *Errors in an error would be non-nil
	}
	return &errs
}

var (
	nameChars = regexp.MustCompile(`^[a-z0-9-]+$`)
	hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// checkName returns why a camera name is unusable, or "". Names end up in
// URL paths, metric labels and log fields, hence the DNS-label rules.
func checkName(name string) string {
	switch {
	case name == "":
		return "missing; every camera needs a unique name such as \"press-1\""
	case !nameChars.MatchString(name):
		return quote(name) + " must be lowercase letters, digits and '-'"
	case len(name) > 63:
		return fmt.Sprintf("%s is %d characters long; at most 63 are allowed", quote(name), len(name))
	case name[0] == '-' || name[len(name)-1] == '-':
		return quote(name) + " must not start or end with '-'"
	}
	return ""
}

func isHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

// checkListen returns why addr cannot be listened on, or "".
func checkListen(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := err.(*net.AddrError); ok {
			return ae.Err
		}
		return err.Error()
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "port must be a number 0..65535"
	}
	return ""
}
