package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// secretQuery matches password-like query parameters, which some cameras
// accept instead of userinfo.
var secretQuery = regexp.MustCompile(`(?i)([?&;](?:password|passwd|pass|pwd)=)[^&#;]*`)

// RedactURL returns raw with its password replaced by "***", keeping the user
// name so a wrong account is still recognisable. Password-like query
// parameters are redacted too. Input that does not parse is redacted on a
// best-effort basis that errs towards hiding too much: the password is never
// returned.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err == nil && u.User != nil:
		if _, has := u.User.Password(); has {
			// url.Userinfo would escape "***" to "%2A%2A%2A"; a plain
			// placeholder survives String unchanged and is then swapped.
			const placeholder = "edgecamredacted"
			u.User = url.UserPassword(u.User.Username(), placeholder)
			raw = strings.Replace(u.String(), ":"+placeholder+"@", ":***@", 1)
		}
	case err == nil && !strings.Contains(raw, "@"):
		// No userinfo at all; keep raw as written rather than re-encoding it.
	default:
		// Either unparsable, or an '@' the parser did not take as userinfo,
		// as in "rtsp://admin:12?34@cam": there "12?34" is a password that
		// url.Parse reads as a port and a query. Cut at the last '@'.
		raw = redactLoose(raw)
	}
	return secretQuery.ReplaceAllString(raw, "${1}***")
}

func redactLoose(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	}
	rest := raw[start:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return raw // a user name without a password
	}
	return raw[:start] + rest[:colon] + ":***" + rest[at:]
}

// checkCameraURL returns why raw is not a usable camera URL, or "". Messages
// show the URL only through RedactURL.
func checkCameraURL(raw string) string {
	if raw == "" {
		return "missing; every camera needs an rtsp:// or rtsps:// URL"
	}
	u, err := url.Parse(raw)
	if err != nil {
		msg := RedactURL(raw) + " is not a valid URL"
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
		return RedactURL(raw) + " has no scheme; write rtsp://host/path or rtsps://host/path"
	default:
		return fmt.Sprintf("scheme %q is not rtsp or rtsps", u.Scheme)
	}
	if u.User == nil && strings.Contains(raw[strings.Index(raw, ":")+1:], "@") {
		// A '/', '?' or '#' in the password ends the host early:
		// "rtsp://admin:12?34@cam/" parses as host "admin", port 12, and
		// the camera would be dialled at the wrong address.
		return RedactURL(raw) + " has an '@' outside user:password@host; percent-encode '/', '?', '#' and '@' in the user or password (e.g. '?' as %3F)"
	}
	if u.Hostname() == "" {
		return RedactURL(raw) + " has no host"
	}
	if p := u.Port(); p != "" {
		// url.Parse accepts any run of digits as a port.
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %s is not a valid port (1..65535)", p)
		}
	}
	if strings.Contains(u.Hostname(), ":") && net.ParseIP(u.Hostname()) == nil {
		return RedactURL(raw) + " has an invalid IPv6 host"
	}
	return ""
}

// quote quotes a user-supplied value for a message. Any value might be a
// camera URL pasted under the wrong key, so it is redacted first.
func quote(s string) string { return strconv.Quote(RedactURL(s)) }
