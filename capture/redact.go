package capture

import (
	"net/url"
	"strings"
)

// RedactURL returns raw with the password replaced by "***". Input that does
// not parse as a URL is cut at the user-info so a password can never leak
// through it.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			if scheme := strings.Index(raw, "://"); scheme >= 0 && scheme < at {
				return raw[:scheme+3] + "***@" + raw[at+1:]
			}
			return "***@" + raw[at+1:]
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	// url.String escapes "***"; undo that so the redaction reads plainly.
	return strings.Replace(u.String(), "%2A%2A%2A", "***", 1)
}

// RedactSecrets removes the password of rawURL, in plain and URL-escaped
// form, from s. Errors from libraries sometimes quote the request URL.
func RedactSecrets(s, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return s
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" {
		return s
	}
	for _, p := range []string{url.PathEscape(pass), url.QueryEscape(pass), pass} {
		if p != "" {
			s = strings.ReplaceAll(s, p, "***")
		}
	}
	return s
}
