package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgecam/edgecam/capture/redact"
)

// checkCameraURL returns why raw is not a usable camera URL, or "". Messages
// show the URL only through redact.URL.
func checkCameraURL(raw string) string {
	if raw == "" {
		return "missing; every camera needs an rtsp:// or rtsps:// URL"
	}
	u, err := url.Parse(raw)
	if err != nil {
		msg := redact.URL(raw) + " is not a valid URL"
		// url.Error repeats the whole URL and its reason may quote part of a
		// password ("invalid port \":s3\""), so give the reason only when
		// there are no credentials to leak.
		var ue *url.Error
		if !strings.ContainsAny(raw, "@?") && errors.As(err, &ue) {
			msg += ": " + ue.Err.Error()
		} else if strings.Contains(raw, "@") {
			msg += "; percent-encode '/', '?', '#' and '@' in the user or password (e.g. '?' as %3F)"
		}
		return msg
	}
	switch u.Scheme {
	case "rtsp", "rtsps":
	case "":
		return redact.URL(raw) + " has no scheme; write rtsp://host/path or rtsps://host/path"
	default:
		return fmt.Sprintf("scheme %q is not rtsp or rtsps", u.Scheme)
	}
	if u.User == nil && strings.Contains(raw[strings.Index(raw, ":")+1:], "@") {
		// A '/', '?' or '#' in the password ends the host early:
		// "rtsp://admin:12?34@cam/" parses as host "admin", port 12, and
		// the camera would be dialled at the wrong address.
		return redact.URL(raw) + " has an '@' outside user:password@host; percent-encode '/', '?', '#' and '@' in the user or password (e.g. '?' as %3F)"
	}
	if u.Hostname() == "" {
		return redact.URL(raw) + " has no host"
	}
	if p := u.Port(); p != "" {
		// url.Parse accepts any run of digits as a port.
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %s is not a valid port (1..65535)", p)
		}
	}
	if strings.Contains(u.Hostname(), ":") && net.ParseIP(u.Hostname()) == nil {
		return redact.URL(raw) + " has an invalid IPv6 host"
	}
	return ""
}

// quote quotes a user-supplied value for a message. Any value might be a
// camera URL pasted under the wrong key, so it is redacted first.
func quote(s string) string {
	s = redact.URL(s)
	// A value pasted by mistake can be megabytes long; its start is enough
	// to recognise it.
	if len(s) > maxQuoted {
		s = strings.ToValidUTF8(s[:maxQuoted], "") + "…"
	}
	return strconv.Quote(s)
}

// maxQuoted is the most of a value a message quotes.
const maxQuoted = 80
