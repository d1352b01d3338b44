package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// problems collects what Validate finds.
type problems struct{ Errors }

func (ps *problems) add(key, format string, args ...any) {
	ps.Problems = append(ps.Problems, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Validate reports every semantic problem at once as an *Errors, or nil.
// It does not apply defaults: call ApplyDefaults first for configs built in
// code. A zero that is some component's default is valid here (Parse
// reports one written explicitly). Problems carry key paths such as
// "cameras[1].url"; Parse adds the file name and line.
func (c *Config) Validate() error {
	var ps problems
	c.validateServer(&ps)
	c.validateAuth(ps.add)
	if c.JPEG.IdleStop < 0 {
		ps.add("jpeg.idle_stop", "%s must be greater than 0", c.JPEG.IdleStop)
	}
	if c.JPEG.MaxDecoders < 1 {
		ps.add("jpeg.max_decoders", "%d must be at least 1", c.JPEG.MaxDecoders)
	}
	if c.JPEG.MaxDecodersPerCamera < 0 {
		ps.add("jpeg.max_decoders_per_camera", "%d must be at least 1", c.JPEG.MaxDecodersPerCamera)
	}
	checkJPEG(&ps, "jpeg", c.JPEG)
	c.validateCameras(&ps)
	c.validateGroups(&ps)
	if len(ps.Problems) == 0 {
		return nil // untyped nil: a nil *Errors in an error would be non-nil
	}
	return &ps.Errors
}

// validateServer checks the http, webrtc, log and debug sections.
func (c *Config) validateServer(ps *problems) {
	if err := checkListen(c.HTTP.Listen); err != "" {
		ps.add("http.listen", "%s is not a valid listen address (%s); use host:port, e.g. \":8080\"", quote(c.HTTP.Listen), err)
	}
	if c.HTTP.ConnectionsPerAddress < 1 {
		ps.add("http.connections_per_address", "%d must be at least 1", c.HTTP.ConnectionsPerAddress)
	}
	if c.HTTP.SessionsPerMinute < 1 {
		ps.add("http.sessions_per_minute", "%d must be at least 1", c.HTTP.SessionsPerMinute)
	}
	if (c.HTTP.TLS.Cert == "") != (c.HTTP.TLS.Key == "") {
		ps.add("http.tls", "set both cert and key, or neither")
	}
	if p := c.WebRTC.UDPPort; p < 0 || p > 65535 {
		ps.add("webrtc.udp_port", "%d is not a valid port (1..65535, or 0 for any free port)", p)
	}
	for i, h := range c.WebRTC.Hosts {
		if net.ParseIP(h) == nil && !isHostname(h) {
			ps.add(fmt.Sprintf("webrtc.hosts[%d]", i), "%s is not an IP address or hostname", quote(h))
		}
	}
	for i, name := range c.WebRTC.Interfaces {
		// Linux interface names are at most 15 bytes and cannot contain '/'
		// or whitespace. Existence is not checked: `edgecam check` may run
		// on another machine than the one that will use the file.
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/: \t") {
			ps.add(fmt.Sprintf("webrtc.interfaces[%d]", i), "%s is not a network interface name (e.g. \"eth0\")", quote(name))
		}
	}
	if c.WebRTC.MaxViewers < 0 {
		ps.add("webrtc.max_viewers", "%d must be at least 1", c.WebRTC.MaxViewers)
	}
	switch c.Log.Level {
	case LogDebug, LogInfo, LogWarn, LogError:
	default:
		ps.add("log.level", "%s is not one of debug, info, warn, error", quote(string(c.Log.Level)))
	}
	if p := c.Debug.PprofListen; p != "" {
		if msg := checkListen(p); msg != "" {
			ps.add("debug.pprof_listen", "%s is not a valid listen address (%s)", quote(p), msg)
		} else if !IsLoopback(p) {
			ps.add("debug.pprof_listen", "%s must be a loopback address such as \"127.0.0.1:6060\": profiles expose memory contents", quote(p))
		}
	}
}

// checkJPEG checks JPEG settings under key path p.
func checkJPEG(ps *problems, p string, j JPEG) {
	if j.FPS < 0 || j.FPS > maxJPEGFPS {
		ps.add(p+".fps", "%g must be greater than 0 and at most %d", j.FPS, maxJPEGFPS)
	}
	if j.MaxWidth < 16 || j.MaxWidth > 7680 {
		ps.add(p+".max_width", "%d must be between 16 and 7680", j.MaxWidth)
	}
	if j.Quality < 0 || j.Quality > 100 {
		ps.add(p+".quality", "%d must be between 1 and 100", j.Quality)
	}
	switch j.HWAccel {
	case HWNone, HWV4L2M2M:
	default:
		ps.add(p+".hwaccel", "%s is not one of \"\" (software) or v4l2m2m", quote(string(j.HWAccel)))
	}
}

// validateCameras checks the camera list.
func (c *Config) validateCameras(ps *problems) {
	firstByName := map[string]int{}
	for i, cam := range c.Cameras {
		p := fmt.Sprintf("cameras[%d]", i)
		if msg := checkName(cam.Name); msg != "" {
			ps.add(p+".name", "%s", msg)
		} else if j, dup := firstByName[cam.Name]; dup {
			where := fmt.Sprintf("cameras[%d]", j)
			if l := c.Cameras[j].Line; l > 0 {
				where = fmt.Sprintf("line %d", l)
			}
			ps.add(p+".name", "duplicate %s (first at %s)", quote(cam.Name), where)
		} else {
			firstByName[cam.Name] = i
		}
		if msg := checkCameraURL(cam.URL); msg != "" {
			ps.add(p+".url", "%s", msg)
		}
		checkTitle(ps, p+".title", cam.Title)
		checkTransport(ps, p+".transport", cam.Transport)
		switch cam.Codec {
		case "", CodecAuto, CodecH264, CodecH265:
		default:
			ps.add(p+".codec", "%s is not one of auto, h264, h265", quote(string(cam.Codec)))
		}
		validateSub(ps, p, cam)
		for _, d := range []struct {
			key string
			v   Duration
		}{{"connect_timeout", cam.ConnectTimeout}, {"read_timeout", cam.ReadTimeout}, {"stale_after", cam.StaleAfter}} {
			if d.v < 0 {
				ps.add(p+"."+d.key, "%s must be greater than 0", d.v)
			}
		}
		if cam.MaxViewers < 1 {
			ps.add(p+".max_viewers", "%d must be at least 1", cam.MaxViewers)
		}
		c.validateOverride(ps, p, cam)
	}
}

func checkTransport(ps *problems, key string, t Transport) {
	switch t {
	case "", TransportAuto, TransportTCP, TransportUDP:
	default:
		ps.add(key, "%s is not one of auto, tcp, udp", quote(string(t)))
	}
}

// validateSub checks a camera's sub-stream keys: its URL as strictly as the
// main one, and no sub_transport without a sub_url.
func validateSub(ps *problems, p string, cam Camera) {
	checkTransport(ps, p+".sub_transport", cam.SubTransport)
	switch {
	case cam.SubURL == "":
		if cam.SubTransport != "" {
			ps.add(p+".sub_transport", "is set but the camera has no sub_url; remove it or add the sub-stream's URL")
		}
	case cam.SubURL == cam.URL:
		ps.add(p+".sub_url", "%s is the same as url; give the camera's smaller stream, or remove the key", quote(cam.SubURL))
	default:
		if msg := checkCameraURL(cam.SubURL); msg != "" {
			ps.add(p+".sub_url", "%s", msg)
		}
	}
}

// validateOverride reports what a camera's own jpeg settings got wrong; the
// global section's problems are already listed.
func (c *Config) validateOverride(ps *problems, p string, cam Camera) {
	if cam.JPEG == (JPEGOverride{}) {
		return
	}
	var own problems
	checkJPEG(&own, p+".jpeg", c.JPEGFor(cam))
	for _, pr := range own.Problems {
		if cam.JPEG.sets(strings.TrimPrefix(pr.Key, p+".jpeg.")) {
			ps.Problems = append(ps.Problems, pr)
		}
	}
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
	// Atoi takes "+80" and " 80"; a port is digits only.
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return "port must be a number 0..65535"
	}
	return ""
}
