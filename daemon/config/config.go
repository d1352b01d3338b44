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
//
// A default lives with the code that uses the setting. Where that code's
// zero value means its default (capture's timeouts and transport, the JPEG
// decoder's ffmpeg, fps, quality and idle_stop, the WebRTC session cap, the
// login lifetime), an unset key stays zero here and the component applies
// its default. The defaults in this package are those of settings whose
// zero means something else where they are used (see defaults.go).
package config

import (
	"reflect"

	"github.com/edgecam/edgecam/capture/redact"
)

// LogLevel is how much the daemon logs.
type LogLevel string

// Log levels.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// HWAccel names a hardware decoder for the JPEG fallbacks: the values of
// jpeg.HWAccel.
type HWAccel string

// Hardware decoders.
const (
	HWNone    HWAccel = ""
	HWV4L2M2M HWAccel = "v4l2m2m"
)

// Transport is how a camera's RTP reaches edgecam: the values of
// capture.Transport.
type Transport string

// Transports.
const (
	TransportAuto Transport = "auto"
	TransportTCP  Transport = "tcp"
	TransportUDP  Transport = "udp"
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
	// Groups name sets of cameras the page can show on their own.
	Groups []Group `yaml:"groups"`
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
	// FFmpeg is the ffmpeg executable, a name looked up in PATH or a path;
	// empty means jpeg.DefaultFFmpeg.
	FFmpeg string `yaml:"ffmpeg"`
	// FPS is the decoder's output rate and the most a viewer may ask for,
	// at most 30; zero means jpeg.DefaultFPS.
	FPS float64 `yaml:"fps"`
	// MaxWidth scales larger pictures down (aspect kept) and caps the width
	// a viewer may ask for (defaults.go).
	MaxWidth int `yaml:"max_width"`
	// Quality is the default JPEG quality, 1 (worst) to 100; zero means
	// jpeg.DefaultQuality.
	Quality int `yaml:"quality"`
	// KeyframesOnly decodes only the camera's keyframes: about one picture
	// per GOP, for a small fraction of the CPU. For weak boards.
	KeyframesOnly bool `yaml:"keyframes_only"`
	// HWAccel names a hardware decoder: "" (software) or "v4l2m2m"
	// (Raspberry Pi and other V4L2 M2M SoCs). edgecam falls back to
	// software when it does not work.
	HWAccel HWAccel `yaml:"hwaccel"`
	// IdleStop is how long a decoder runs on after its last viewer left;
	// zero means jpeg.DefaultIdleStop.
	IdleStop Duration `yaml:"idle_stop"`
	// MaxDecodersPerCamera bounds one camera's decoders (an ffmpeg each,
	// one per size and format asked for); zero means
	// frames.DefaultMaxDecoders.
	MaxDecodersPerCamera int `yaml:"max_decoders_per_camera"`
	// MaxDecoders bounds the decoders of all cameras together (defaults.go).
	MaxDecoders int `yaml:"max_decoders"`
}

// JPEGOverride changes the JPEG settings for one camera; unset keys keep
// the global jpeg section's values.
type JPEGOverride struct {
	FPS           *float64 `yaml:"fps"`
	MaxWidth      *int     `yaml:"max_width"`
	Quality       *int     `yaml:"quality"`
	KeyframesOnly *bool    `yaml:"keyframes_only"`
	HWAccel       *HWAccel `yaml:"hwaccel"`
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
	// SessionsPerMinute caps new viewer sessions (WHEP, MJPEG, WebSockets,
	// event streams) from one client address per minute. Default 300.
	SessionsPerMinute int `yaml:"sessions_per_minute"`
	// ConnectionsPerAddress caps the connections one client address holds
	// open at once; more are closed at once. Default 128.
	ConnectionsPerAddress int `yaml:"connections_per_address"`
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
	// MaxViewers caps WebRTC sessions across all cameras, so a small box
	// cannot be overloaded by open browser tabs; zero means
	// whep.DefaultMaxSessions.
	MaxViewers int `yaml:"max_viewers"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error (defaults.go).
	Level LogLevel `yaml:"level"`
}

// Camera is one IP camera to pull video from.
type Camera struct {
	// Name identifies the camera in URLs, logs and metrics, so it is
	// restricted to lowercase letters, digits and '-' (1..63 characters, not
	// starting or ending with '-') and must be unique.
	Name string `yaml:"name"`
	// Title is what the page shows for the camera; empty means Name.
	Title string `yaml:"title"`
	// URL is the rtsp:// or rtsps:// address, usually with user:password.
	// Print it only through RedactedURL.
	URL string `yaml:"url"`
	// Transport is auto (default: try UDP, fall back to TCP), tcp or udp.
	Transport Transport `yaml:"transport"`
	// Codec is auto (default: H.264 if the camera offers it, else H.265),
	// h264 or h265.
	Codec Codec `yaml:"codec"`
	// SubURL is the rtsp:// or rtsps:// address of the camera's sub-stream,
	// the small one most cameras also serve, which the page's grid plays.
	// Empty means the camera has none. Print it only through
	// RedactedSubURL.
	SubURL string `yaml:"sub_url"`
	// SubTransport is the sub-stream's transport; empty means Transport's.
	SubTransport Transport `yaml:"sub_transport"`
	// OnDemand pulls the stream only while someone watches, to spare
	// cameras and links that are rarely viewed.
	OnDemand bool `yaml:"on_demand"`
	// Disabled keeps the camera in the file without starting it.
	Disabled bool `yaml:"disabled"`
	// ConnectTimeout bounds connecting and starting playback; zero means
	// capture.DefaultConnectTimeout.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// ReadTimeout is how long no packets may arrive before the stream is
	// considered stalled and reconnected; zero means
	// capture.DefaultReadTimeout.
	ReadTimeout Duration `yaml:"read_timeout"`
	// MaxViewers caps WebRTC sessions on this camera (defaults.go).
	MaxViewers int `yaml:"max_viewers"`
	// StaleAfter is how long the camera may send no frame, with its RTSP
	// session up, before it is shown as stale; zero means
	// capture.DefaultStaleAfter.
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

// RedactedSubURL is RedactedURL for the sub-stream's URL; "" when the
// camera has no sub-stream.
func (c Camera) RedactedSubURL() string { return redact.URL(c.SubURL) }

// SubStreamTransport is the transport the sub-stream is pulled over.
func (c Camera) SubStreamTransport() Transport {
	if c.SubTransport != "" {
		return c.SubTransport
	}
	return c.Transport
}

// Equal reports whether two cameras have the same settings, ignoring Line
// and Title, so a reload can restart only the cameras whose stream changed
// and not those that merely moved in the file or were renamed on the page.
func (c Camera) Equal(o Camera) bool {
	// Comparing whole structs keeps this correct when fields are added;
	// DeepEqual because the JPEG overrides are pointers.
	c.Line, o.Line = 0, 0
	c.Title, o.Title = "", ""
	return reflect.DeepEqual(c, o)
}
