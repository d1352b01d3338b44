// Package redact removes credentials from camera URLs and from text that may
// quote them. Camera URLs carry the camera's user and password, and every
// log line, error, API answer and page edgecam writes passes through here
// before it shows one.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// secretQuery matches password-like query parameters, which some cameras
// accept instead of userinfo.
var secretQuery = regexp.MustCompile(`(?i)([?&;](?:password|passwd|pass|pwd)=)[^&#;]*`)

// URL returns raw with its password replaced by "***", keeping the user
// name so a wrong account is still recognisable. Password-like query
// parameters are redacted too. Input that does not parse is redacted on a
// best-effort basis that errs towards hiding too much: the password is never
// returned.
func URL(raw string) string {
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

// Secrets removes the password of rawURL, in plain and URL-escaped form,
// from s. Errors from libraries sometimes quote the request URL.
func Secrets(s, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return s
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" {
		return s
	}
	// The password as the URL spells it, which may escape other characters
	// than either function below.
	written := ""
	if i := strings.Index(rawURL, "://"); i >= 0 {
		if userinfo, _, ok := strings.Cut(rawURL[i+3:], "@"); ok {
			_, written, _ = strings.Cut(userinfo, ":")
		}
	}
	if unescaped, err := url.PathUnescape(written); err != nil || unescaped != pass {
		written = ""
	}
	for _, p := range []string{written, url.PathEscape(pass), url.QueryEscape(pass), pass} {
		if p != "" {
			s = strings.ReplaceAll(s, p, "***")
		}
	}
	return s
}
