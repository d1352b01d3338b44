// Package onvif is a small ONVIF client: WS-Discovery on chosen interfaces,
// and the few device and media service calls that turn a camera found on
// the LAN into RTSP stream addresses (GetDeviceInformation, GetCapabilities
// or GetServices, GetProfiles, GetStreamUri). Every request carries a
// WS-UsernameToken digest, and is retried once with HTTP digest
// authentication when the device asks for it.
//
// Everything a device sends is untrusted: answers are read through a size
// limit, every request has a deadline, and the parsers return errors, never
// panic, on any input.
package onvif

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// DefaultRequestTimeout bounds one SOAP request, connection included, when
// Client.Timeout is zero.
const DefaultRequestTimeout = 5 * time.Second

// maxAnswer is the most of an answer the client reads. A GetProfiles answer
// of a device with many profiles is a few tens of kilobytes.
const maxAnswer = 1 << 20

// ErrNotAuthorized is matched (errors.Is) by the errors of requests the
// device refused: a SOAP fault ter:NotAuthorized, or HTTP 401 after digest
// authentication was tried.
var ErrNotAuthorized = errors.New("the device refused the credentials")

// Client calls ONVIF services. Its zero value works: no credentials, the
// default timeout and transport.
type Client struct {
	// User and Password authenticate every request; with an empty User the
	// requests carry no credentials.
	User, Password string
	// Timeout bounds one request; zero means DefaultRequestTimeout.
	Timeout time.Duration
	// ClockOffset is added to this machine's clock for the UsernameToken's
	// Created time: the device's clock minus ours (see DeviceTime).
	ClockOffset time.Duration
	// Transport, when set, carries the requests (tests); nil means a
	// transport of the request's own, without proxy.
	Transport http.RoundTripper
}

// Namespaces of the services called.
const (
	nsDevice = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia  = "http://www.onvif.org/ver10/media/wsdl"
	nsSchema = "http://www.onvif.org/ver10/schema"
	nsSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)

// call posts one SOAP 1.2 request with body (an element of service ns
// named by action's last part) to endpoint and returns the answer's
// envelope, or an error naming what failed. A SOAP fault in the answer is
// returned as a *Fault.
func (c *Client) call(ctx context.Context, endpoint, ns, action, body string) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt := c.Transport
	if rt == nil {
		t := &http.Transport{
			// Cameras are on the LAN: a proxy from the environment would
			// neither reach them nor deserve their digests.
			Proxy:                  nil,
			DialContext:            (&net.Dialer{Timeout: timeout}).DialContext,
			MaxResponseHeaderBytes: 64 << 10,
			DisableCompression:     true,
		}
		defer t.CloseIdleConnections()
		rt = t
	}
	hc := &http.Client{
		Transport: rt,
		// A redirect would resend credentials to wherever the device says.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.post(ctx, hc, endpoint, ns+"/"+action, body, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		challenge := resp.Header.Get("WWW-Authenticate")
		drain(resp)
		auth, ok := c.digestAuthorization(challenge, http.MethodPost, resp.Request.URL.RequestURI())
		if !ok {
			return nil, fmt.Errorf("%s: HTTP 401: %w", action, ErrNotAuthorized)
		}
		if resp, err = c.post(ctx, hc, endpoint, ns+"/"+action, body, auth); err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized {
			drain(resp)
			return nil, fmt.Errorf("%s: HTTP 401 to digest authentication: %w", action, ErrNotAuthorized)
		}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", action, err)
	}
	if len(data) > maxAnswer {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", action, maxAnswer)
	}
	if f := parseFault(data); f != nil {
		return nil, fmt.Errorf("%s: %w", action, f)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s", action, resp.Status)
	}
	return data, nil
}

// post sends body in a fresh envelope: a device may refuse a UsernameToken
// nonce it has seen before.
func (c *Client) post(ctx context.Context, hc *http.Client, endpoint, action, body, auth string) (*http.Response, error) {
	env, err := c.envelope(body, time.Now().Add(c.ClockOffset))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(env))
	if err != nil {
		return nil, fmt.Errorf("device address %q: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+action+`"`)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: no answer within the request timeout: %w", action[strings.LastIndex(action, "/")+1:], ctx.Err())
		}
		return nil, err
	}
	return resp, nil
}

// drain reads a little of an unwanted body so the connection can be reused,
// then closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// envelope wraps body in a SOAP 1.2 envelope with the UsernameToken header.
func (c *Client) envelope(body string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="` + nsSOAP12 + `" xmlns:tds="` + nsDevice + `" xmlns:trt="` + nsMedia + `" xmlns:tt="` + nsSchema + `">`)
	if c.User != "" {
		h, err := usernameToken(c.User, c.Password, now)
		if err != nil {
			return nil, err
		}
		b.WriteString("<s:Header>" + h + "</s:Header>")
	}
	b.WriteString("<s:Body>" + body + "</s:Body></s:Envelope>")
	return b.Bytes(), nil
}

// Fault is a SOAP fault answered by a device.
type Fault struct {
	Code    string // e.g. "env:Sender" (SOAP 1.2) or "SOAP-ENV:Client" (1.1)
	Subcode string // the innermost subcode, e.g. "ter:NotAuthorized"
	Reason  string
}

// Error describes the fault as the device gave it.
func (f *Fault) Error() string {
	s := "SOAP fault " + f.Code
	if f.Subcode != "" {
		s += "/" + f.Subcode
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// Is makes a ter:NotAuthorized fault match ErrNotAuthorized.
func (f *Fault) Is(target error) bool {
	return target == ErrNotAuthorized && localName(f.Subcode) == "NotAuthorized"
}

// xmlFault holds both SOAP 1.2 and SOAP 1.1 fault fields.
type xmlFault struct {
	Code    string   `xml:"Code>Value"`
	Subcode []string `xml:"Code>Subcode>Value"`
	Nested  []string `xml:"Code>Subcode>Subcode>Value"`
	Reason  []string `xml:"Reason>Text"`
	Code11  string   `xml:"faultcode"`
	String  string   `xml:"faultstring"`
}

// parseFault returns the SOAP fault in data, or nil when data holds none.
func parseFault(data []byte) *Fault {
	var env struct {
		XMLName xml.Name  `xml:"Envelope"`
		Fault   *xmlFault `xml:"Body>Fault"`
	}
	if xml.Unmarshal(data, &env) != nil || env.Fault == nil {
		return nil
	}
	x := env.Fault
	f := &Fault{Code: clean(x.Code), Reason: clean(first(x.Reason))}
	if f.Code == "" {
		f.Code, f.Reason = clean(x.Code11), clean(x.String)
	}
	f.Subcode = clean(first(x.Subcode))
	if n := clean(first(x.Nested)); n != "" {
		f.Subcode = n
	}
	if f.Code == "" {
		f.Code = "(no code)"
	}
	return f
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// localName returns the part of a QName after its prefix.
func localName(qname string) string {
	return qname[strings.LastIndex(qname, ":")+1:]
}

// maxText is the most of a device-supplied text that is kept.
const maxText = 256

// clean trims a device-supplied text, replaces control characters (a
// device's name must not start a new line in the YAML it ends up in) and
// cuts it to maxText bytes of valid UTF-8.
func clean(s string) string {
	if len(s) > 4*maxText {
		s = s[:4*maxText]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxText {
		s = strings.ToValidUTF8(s[:maxText], "")
	}
	return s
}
