package onviftest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"
)

// The envelope's namespace declarations, with the prefixes Hikvision uses.
const envelopeOpen = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
	`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" ` +
	`xmlns:soapenc="http://www.w3.org/2003/05/soap-encoding" ` +
	`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
	`xmlns:xs="http://www.w3.org/2001/XMLSchema" ` +
	`xmlns:tt="http://www.onvif.org/ver10/schema" ` +
	`xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ` +
	`xmlns:trt="http://www.onvif.org/ver10/media/wsdl" ` +
	`xmlns:ter="http://www.onvif.org/ver10/error">` + "\n"

// request is what the device reads of a SOAP request.
type request struct {
	XMLName xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
	Token   struct {
		Username string `xml:"Username"`
		Password struct {
			Type  string `xml:"Type,attr"`
			Value string `xml:",chardata"`
		} `xml:"Password"`
		Nonce   string `xml:"Nonce"`
		Created string `xml:"Created"`
	} `xml:"Header>Security>UsernameToken"`
	Body struct {
		Content []struct {
			XMLName      xml.Name
			ProfileToken string `xml:"ProfileToken"`
			Stream       string `xml:"StreamSetup>Stream"`
			Protocol     string `xml:"StreamSetup>Transport>Protocol"`
		} `xml:",any"`
	} `xml:"Body"`
}

func (d *Device) serveSOAP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.requests++
	d.mu.Unlock()
	if d.opts.NeverAnswer {
		select {
		case <-r.Context().Done():
		case <-d.closed:
		}
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	var req request
	if err == nil {
		err = xml.Unmarshal(data, &req)
	}
	if err != nil || len(req.Body.Content) != 1 {
		fault(w, http.StatusBadRequest, "env:Sender", "ter:WellFormed", "the request is not a SOAP 1.2 envelope with one operation")
		return
	}
	op := req.Body.Content[0]
	// GetSystemDateAndTime comes before authentication (ONVIF Core 5.12.1),
	// so clients can learn the clock their tokens must agree with.
	if op.XMLName.Local == "GetSystemDateAndTime" && r.URL.Path == "/onvif/device_service" {
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		fmt.Fprint(w, envelopeOpen+"<env:Body>"+d.systemDateAndTime()+"</env:Body>\n</env:Envelope>\n")
		return
	}
	if d.opts.User != "" && !d.authorized(w, r, &req) {
		return
	}
	body, ok := d.answer(r.URL.Path, op.XMLName, op.ProfileToken, op.Stream, op.Protocol)
	if !ok {
		fault(w, http.StatusBadRequest, "env:Receiver", "ter:ActionNotSupported", "the device does not support "+op.XMLName.Local)
		return
	}
	if strings.HasPrefix(body, "fault:") {
		fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal", strings.TrimPrefix(body, "fault:"))
		return
	}
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	fmt.Fprint(w, envelopeOpen+"<env:Body>"+body+"</env:Body>\n</env:Envelope>\n")
}

// authorized checks the request's credentials and, when they do not do,
// answers as a device does: 401 with a Digest challenge, or the
// NotAuthorized fault.
func (d *Device) authorized(w http.ResponseWriter, r *http.Request, req *request) bool {
	if d.opts.HTTPDigest {
		if d.digestOK(r) {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Digest qop="auth", realm="IP Camera(C1234)", nonce="4e6a49314d7a4530`+fmt.Sprint(d.Requests())+`", stale="FALSE"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return false
	}
	t := req.Token
	nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(t.Nonce))
	created, cerr := time.Parse(time.RFC3339Nano, strings.TrimSpace(t.Created))
	if skew := created.Sub(d.now()); cerr != nil || skew > 5*time.Minute || skew < -5*time.Minute {
		err = errors.New("created too far from the device's time")
	}
	if err == nil && strings.TrimSpace(t.Username) == d.opts.User &&
		strings.HasSuffix(t.Password.Type, "#PasswordDigest") {
		h := sha1.New()
		h.Write(nonce)
		h.Write([]byte(strings.TrimSpace(t.Created)))
		h.Write([]byte(d.opts.Password))
		want := base64.StdEncoding.EncodeToString(h.Sum(nil))
		if subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(t.Password.Value))) == 1 {
			return true
		}
	}
	fault(w, http.StatusBadRequest, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
	return false
}

// digestOK checks an HTTP Digest Authorization (RFC 7616, MD5, qop=auth or
// none) against the device's credentials.
func (d *Device) digestOK(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(h, "Digest ")
	if !ok {
		return false
	}
	p := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		p[k] = strings.Trim(v, `"`)
	}
	sum := func(s string) string { b := md5.Sum([]byte(s)); return hex.EncodeToString(b[:]) }
	if p["username"] != d.opts.User {
		return false
	}
	ha1 := sum(d.opts.User + ":" + p["realm"] + ":" + d.opts.Password)
	ha2 := sum(r.Method + ":" + p["uri"])
	want := sum(ha1 + ":" + p["nonce"] + ":" + ha2)
	if p["qop"] == "auth" {
		want = sum(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(p["response"])) == 1
}

// fault writes a SOAP 1.2 fault as ONVIF Core 5.11 lays it out.
func fault(w http.ResponseWriter, status int, code, subcode, reason string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, envelopeOpen+"<env:Body><env:Fault><env:Code><env:Value>"+code+"</env:Value>"+
		"<env:Subcode><env:Value>"+subcode+"</env:Value></env:Subcode></env:Code>"+
		`<env:Reason><env:Text xml:lang="en">`+html.EscapeString(reason)+"</env:Text></env:Reason>"+
		"</env:Fault></env:Body>\n</env:Envelope>\n")
}

// now is the device's clock.
func (d *Device) now() time.Time { return time.Now().Add(d.opts.ClockOffset).UTC() }

// systemDateAndTime is the GetSystemDateAndTime answer, as Hikvision words it.
func (d *Device) systemDateAndTime() string {
	t := d.now()
	local := t.Add(8 * time.Hour)
	dt := func(t time.Time) string {
		return fmt.Sprintf("<tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>"+
			"<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date>",
			t.Hour(), t.Minute(), t.Second(), t.Year(), int(t.Month()), t.Day())
	}
	return "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType>" +
		"<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone>" +
		"<tt:UTCDateTime>" + dt(t) + "</tt:UTCDateTime><tt:LocalDateTime>" + dt(local) + "</tt:LocalDateTime>" +
		"</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
}
