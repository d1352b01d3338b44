package onvif

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/edgecam/edgecam/capture/onvif/onviftest"
)

// Real-device-shaped messages: an Axis-style ProbeMatch (SOAP 1.2, d: and
// a: prefixes, several XAddrs and an IPv6 one), a Dahua-style one with
// default namespaces, a SOAP 1.1 fault, and a GetProfiles answer with a
// profile without video encoder and an H.265-era encoder name.
const (
	axisProbeMatch  = `<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><SOAP-ENV:Header><a:MessageID>uuid:1419d68a-1dd2-11b2-a105-ACCC8E000001</a:MessageID><a:RelatesTo>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</a:RelatesTo><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action><d:AppSequence InstanceId="1" MessageNumber="5"></d:AppSequence></SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:a9a6a6a6-1dd2-11b2-a105-ACCC8E000001</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/hardware/P1375 onvif://www.onvif.org/name/AXIS%20P1375 onvif://www.onvif.org/location/</d:Scopes><d:XAddrs>http://10.0.0.21/onvif/device_service http://[fe80::accc:8eff:fe00:1]/onvif/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`
	dahuaProbeMatch = `<?xml version="1.0" encoding="utf-8" standalone="yes" ?><s:Envelope xmlns:sc="http://www.w3.org/2003/05/soap-encoding" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header><a:MessageID>urn:uuid:2f8d3e12-0000-0000-0000-000000000000</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>uuid:5f5a69c2-e0ae-504f-829b-00000000</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types><d:Scopes>onvif://www.onvif.org/location/country/china onvif://www.onvif.org/name/Dahua onvif://www.onvif.org/hardware/IPC-HDW2431T-AS-S2 onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/type/Network_Video_Transmitter onvif://www.onvif.org/extension/unique_identifier</d:Scopes><d:XAddrs>http://10.0.0.22/onvif/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`
	soap11Fault     = `<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>Authority failure</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`
	mixedProfiles   = `<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><trt:GetProfilesResponse><trt:Profiles fixed="true" token="profile_1_h264"><tt:Name>profile_1 h264</tt:Name><tt:VideoEncoderConfiguration token="default_1_h264"><tt:Name>default_1_h264</tt:Name><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution><tt:RateControl><tt:FrameRateLimit>30</tt:FrameRateLimit></tt:RateControl></tt:VideoEncoderConfiguration></trt:Profiles><trt:Profiles token="audio_only"><tt:Name>audio</tt:Name></trt:Profiles><trt:Profiles token="p3"><tt:Name>bad</tt:Name><tt:VideoEncoderConfiguration><tt:Encoding>H265</tt:Encoding><tt:Resolution><tt:Width>-1</tt:Width><tt:Height>99999999999</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles></trt:GetProfilesResponse></s:Body></s:Envelope>`
)

// recorder keeps the bodies a simulated device answers.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	return resp, nil
}

// deviceMessages returns what the simulated device answers to every call,
// good and refused, and its ProbeMatches.
func deviceMessages(f *testing.F) [][]byte {
	d, err := onviftest.Start(onviftest.Options{User: "admin", Password: "pw", Name: "Press 1", Hardware: "DS-2CD2143G2-I",
		Manufacturer: "HIKVISION", Model: "DS-2CD2143G2-I", Profiles: testProfiles})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	rec := &recorder{}
	ctx := context.Background()
	for _, pass := range []string{"pw", "wrong"} {
		c := &Client{User: "admin", Password: pass, Transport: rec}
		_, _ = c.DeviceInformation(ctx, d.XAddr())
		_, _ = c.DeviceTime(ctx, d.XAddr())
		_, _ = c.Scopes(ctx, d.XAddr())
		media, _ := c.MediaAddress(ctx, d.XAddr())
		_, _ = c.call(ctx, d.XAddr(), nsDevice, "GetServices", `<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>`)
		_, _ = c.Profiles(ctx, media)
		_, _ = c.StreamURI(ctx, media, "Profile_1")
	}
	return append(rec.bodies, d.ProbeMatches("urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a"))
}

func addSeeds(f *testing.F, extra ...string) {
	for _, m := range deviceMessages(f) {
		f.Add(m)
	}
	for _, m := range append(extra, axisProbeMatch, dahuaProbeMatch, soap11Fault, mixedProfiles) {
		f.Add([]byte(m))
	}
}

// checkText fails when a device-supplied text could break a line of the
// output it ends up in.
func checkText(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\x00\u2028\u2029\u0085") || len(s) > 4*maxText {
		t.Fatalf("%s %q is not one line of bounded, valid text", what, s)
	}
}

func FuzzParseProbeMatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseProbeMatches(data, "urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a")
		if err != nil {
			return
		}
		for _, m := range ms {
			checkText(t, "endpoint", m.Endpoint)
			if len(m.XAddrs) > maxXAddrs || len(m.Scopes) > maxScopes {
				t.Fatalf("%d xaddrs, %d scopes", len(m.XAddrs), len(m.Scopes))
			}
			for _, a := range m.XAddrs {
				if u, err := url.Parse(a); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
					t.Fatalf("xaddr %q is not an http address", a)
				}
			}
		}
		merge(append(ms, ms...))
	})
}

func FuzzParseProfiles(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := parseProfiles(data)
		if err != nil {
			return
		}
		if len(ps) > maxProfiles {
			t.Fatalf("%d profiles", len(ps))
		}
		for _, p := range ps {
			checkText(t, "token", p.Token)
			checkText(t, "name", p.Name)
			checkText(t, "encoding", p.Encoding)
			if p.Width < 0 || p.Height < 0 || p.FPS < 0 || p.Token == "" {
				t.Fatalf("profile %+v", p)
			}
		}
	})
}

// FuzzParseDeviceAnswers runs every other parser on the same input.
func FuzzParseDeviceAnswers(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if info, err := parseDeviceInformation(data); err == nil {
			for _, s := range []string{info.Manufacturer, info.Model, info.Firmware, info.Serial, info.Hardware} {
				checkText(t, "device information", s)
			}
		}
		for _, parse := range []func([]byte) (string, error){parseCapabilities, parseServices} {
			if a, err := parse(data); err == nil && !httpURL(a) {
				t.Fatalf("media address %q", a)
			}
		}
		if uri, err := parseStreamURI(data); err == nil {
			if u, err := url.Parse(uri); err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") {
				t.Fatalf("stream uri %q", uri)
			}
		}
		if when, err := parseDeviceTime(data); err == nil && when.Year() < 1970 {
			t.Fatalf("device time %v", when)
		}
		if scopes, err := parseScopes(data); err == nil && len(scopes) > maxScopes {
			t.Fatalf("%d scopes", len(scopes))
		}
		if fault := parseFault(data); fault != nil {
			checkText(t, "fault", fault.Error())
		}
	})
}

func FuzzDigestChallenge(f *testing.F) {
	for _, s := range []string{
		`Digest qop="auth", realm="IP Camera(C1234)", nonce="4e6a49314d7a4530", stale="FALSE"`,
		`Digest realm="AXIS_ACCC8E000000", nonce="abc, def", algorithm=MD5, qop="auth,auth-int", opaque="x\"y"`,
		`Digest realm="x", nonce="n\`, `Basic realm="x"`, `Digest ,,,=,"`,
	} {
		f.Add(s)
	}
	c := &Client{User: "admin", Password: "pw"}
	f.Fuzz(func(t *testing.T, challenge string) {
		auth, ok := c.digestAuthorization(challenge, "POST", "/onvif/device_service")
		if ok && (!strings.HasPrefix(auth, "Digest ") || strings.ContainsAny(auth, "\r\n")) {
			t.Fatalf("authorization %q", auth)
		}
	})
}
