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

// secretName matches the names of query parameters that carry a secret,
// which cameras and their gateways accept instead of userinfo under many
// names: password, passwd, pwd, psw, pw, token, access_token, auth,
// authkey, apikey, key, secret, sig, signature, session, credential, and
// any name containing one of those. A harmless parameter caught by it is
// hidden too; a secret missed would not be.
const secretName = `[a-z0-9_.\-]*(?:pass|pwd|psw|pw|token|auth|key|secret|sig|session|credential)[a-z0-9_.\-]*`

// secretQuery matches a secret query parameter and its value.
var secretQuery = regexp.MustCompile(`(?i)([?&;]` + secretName + `=)[^&#;\s"']*`)

var secretNameRE = regexp.MustCompile(`(?i)^` + secretName + `$`)

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

// Secrets removes the password of rawURL and the values of its secret
// query parameters, in plain and URL-escaped form, from s, and redacts any
// URL-like secret parameter left in it. Errors from libraries and cameras
// sometimes quote the request URL, or echo a part of it.
func Secrets(s, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return secretQuery.ReplaceAllString(s, "${1}***")
	}
	for name, values := range u.Query() {
		if !secretNameRE.MatchString(name) {
			continue
		}
		for _, v := range values {
			s = hide(s, v, "")
		}
	}
	s = secretQuery.ReplaceAllString(s, "${1}***")
	if u.User == nil {
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
	return hide(s, pass, written)
}

// hide replaces secret in s in every form a URL or a message may spell it:
// as written in the URL, escaped for a path or a query, and plain.
func hide(s, secret, written string) string {
	if secret == "" {
		return s
	}
	for _, p := range []string{written, url.PathEscape(secret), url.QueryEscape(secret), secret} {
		if p != "" {
			s = strings.ReplaceAll(s, p, "***")
		}
	}
	return s
}
