package onvif

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// usernameToken returns the WS-Security header of the ONVIF Core
// specification (5.12): PasswordDigest = Base64(SHA1(nonce + created +
// password)), so the password itself never crosses the network.
func usernameToken(user, password string, now time.Time) (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("make a nonce: %w", err)
	}
	created := now.UTC().Format("2006-01-02T15:04:05.000Z")
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
		`<wsse:UsernameToken><wsse:Username>` + escape(user) + `</wsse:Username>` +
		`<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">` +
		PasswordDigest(nonce, created, password) + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">` +
		base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce>` +
		`<wsu:Created>` + created + `</wsu:Created></wsse:UsernameToken></wsse:Security>`, nil
}

// PasswordDigest is the WS-UsernameToken digest of password for a nonce
// (raw bytes) and a Created timestamp, as the ONVIF Core specification
// defines it.
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// digestAuthorization answers an HTTP Digest challenge (RFC 7616, MD5, with
// or without qop=auth), as many cameras demand on top of or instead of the
// UsernameToken. ok is false when the challenge is not a Digest one that
// the client can answer, or when it has no credentials.
func (c *Client) digestAuthorization(challenge, method, uri string) (auth string, ok bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(challenge), " ")
	if c.User == "" || !strings.EqualFold(scheme, "Digest") {
		return "", false
	}
	p := authParams(rest)
	if alg := p["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
		return "", false
	}
	if p["nonce"] == "" {
		return "", false
	}
	md5hex := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := md5hex(c.User + ":" + p["realm"] + ":" + c.Password)
	ha2 := md5hex(method + ":" + uri)
	auth = fmt.Sprintf(`Digest username=%q, realm=%q, nonce=%q, uri=%q`, c.User, p["realm"], p["nonce"], uri)
	if hasToken(p["qop"], "auth") {
		cn := make([]byte, 8)
		if _, err := rand.Read(cn); err != nil {
			return "", false
		}
		cnonce := hex.EncodeToString(cn)
		resp := md5hex(ha1 + ":" + p["nonce"] + ":00000001:" + cnonce + ":auth:" + ha2)
		auth += fmt.Sprintf(`, qop=auth, nc=00000001, cnonce=%q, response=%q`, cnonce, resp)
	} else {
		auth += fmt.Sprintf(`, response=%q`, md5hex(ha1+":"+p["nonce"]+":"+ha2))
	}
	if o, has := p["opaque"]; has {
		auth += fmt.Sprintf(`, opaque=%q`, o)
	}
	if p["algorithm"] != "" {
		auth += ", algorithm=MD5"
	}
	return auth, true
}

// authParams parses the comma-separated name=value or name="value" pairs
// of an authentication challenge. Quoted values may hold commas.
func authParams(s string) map[string]string {
	p := map[string]string{}
	for len(p) < 32 {
		s = strings.TrimLeft(s, " \t,")
		name, rest, found := strings.Cut(s, "=")
		if !found {
			return p
		}
		name = strings.ToLower(strings.TrimSpace(name))
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			value = strings.ReplaceAll(rest[1:min(end, len(rest))], `\`, "")
			s = rest[min(end+1, len(rest)):]
		} else {
			value, s, _ = strings.Cut(rest, ",")
			value = strings.TrimSpace(value)
		}
		p[name] = value
	}
	return p
}

// hasToken reports whether the comma-separated list holds token.
func hasToken(list, token string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// escape escapes s for XML character data.
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}
