package capture

import (
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
)

// Reason says, as a code a program can switch on, why a camera delivers no
// video: the page turns it into words an operator can act on, and the raw
// error stays in Status.LastError for whoever needs the detail.
type Reason string

// Reasons. The empty Reason means video flows (or nothing was tried yet).
const (
	ReasonNone         Reason = ""
	ReasonRefused      Reason = "refused"      // nothing answers at the address: camera off, cable, wrong port
	ReasonTimeout      Reason = "timeout"      // the camera did not answer in time
	ReasonDNS          Reason = "dns"          // the camera's host name does not resolve
	ReasonUnreachable  Reason = "unreachable"  // no route to the camera's network
	ReasonUnauthorized Reason = "unauthorized" // the camera refused the user or password (401)
	ReasonNotFound     Reason = "not_found"    // the camera has no stream at the URL's path (404)
	ReasonCodec        Reason = "codec"        // the camera sends a codec edgecam does not forward
	ReasonNoVideo      Reason = "no_video"     // the session is up, no picture arrives
	ReasonEnded        Reason = "ended"        // the camera closed the connection or ended the stream
	ReasonOther        Reason = "error"        // anything else; LastError says what
)

// Reasons lists every Reason but ReasonNone, for documentation and tests.
func Reasons() []Reason {
	return []Reason{ReasonRefused, ReasonTimeout, ReasonDNS, ReasonUnreachable, ReasonUnauthorized,
		ReasonNotFound, ReasonCodec, ReasonNoVideo, ReasonEnded, ReasonOther}
}

// errUnauthorized and errNoPath are the camera's answers to DESCRIBE that
// say what is wrong in the configuration, not in the network.
var (
	errUnauthorized = errors.New("camera refused the credentials (401)")
	errNoPath       = errors.New("no stream at this path (404)")
)

// errNoVideo is a session that stayed up without delivering a picture.
var errNoVideo = errors.New("no decodable video")

// classify names the kind of a session's error. It looks at the error's
// types first and falls back to the text, because the RTSP library does not
// wrap every network error it passes on (its own timeouts among them).
func classify(err error) Reason {
	var unsupported *UnsupportedCodecError
	var dns *net.DNSError
	var netErr net.Error
	switch {
	case err == nil:
		return ReasonNone
	case errors.As(err, &unsupported):
		return ReasonCodec
	case errors.Is(err, errUnauthorized):
		return ReasonUnauthorized
	case errors.Is(err, errNoPath):
		return ReasonNotFound
	case errors.Is(err, errNoVideo):
		return ReasonNoVideo
	case errors.Is(err, ErrStreamEnded), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return ReasonEnded
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.As(err, &dns):
		return ReasonDNS
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ReasonUnreachable
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	}
	return classifyText(err.Error())
}

// classifyText reads the kind from an error's text, for errors that lost
// their type on the way.
func classifyText(s string) Reason {
	for _, k := range []struct {
		text   string
		reason Reason
	}{
		{"connection refused", ReasonRefused},
		{"no such host", ReasonDNS},
		{"server misbehaving", ReasonDNS},
		{"no route to host", ReasonUnreachable},
		{"network is unreachable", ReasonUnreachable},
		{"timeout", ReasonTimeout},
		{"timed out", ReasonTimeout},
		{"connection reset", ReasonEnded},
		{"EOF", ReasonEnded},
		{"terminated", ReasonEnded},
	} {
		if strings.Contains(s, k.text) {
			return k.reason
		}
	}
	return ReasonOther
}

// address is the host and port the camera is dialled at, never with the
// URL's user or password: what an operator checks the camera against.
func address(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "554"
		if u.Scheme == "rtsps" {
			port = "322"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
