package onvif

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgecam/edgecam/capture/redact"
)

// DeviceInfo is a device's answer to GetDeviceInformation.
type DeviceInfo struct {
	Manufacturer, Model, Firmware, Serial, Hardware string
}

// DeviceInformation asks the device service at xaddr who the device is.
func (c *Client) DeviceInformation(ctx context.Context, xaddr string) (DeviceInfo, error) {
	data, err := c.call(ctx, xaddr, nsDevice, "GetDeviceInformation", `<tds:GetDeviceInformation/>`)
	if err != nil {
		return DeviceInfo{}, err
	}
	return parseDeviceInformation(data)
}

func parseDeviceInformation(data []byte) (DeviceInfo, error) {
	var env struct {
		XMLName xml.Name `xml:"Envelope"`
		R       *struct {
			Manufacturer, Model, FirmwareVersion, SerialNumber, HardwareId string
		} `xml:"Body>GetDeviceInformationResponse"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return DeviceInfo{}, fmt.Errorf("GetDeviceInformation: unreadable answer: %w", err)
	}
	if env.R == nil {
		return DeviceInfo{}, errors.New("GetDeviceInformation: the answer holds no GetDeviceInformationResponse")
	}
	r := env.R
	return DeviceInfo{clean(r.Manufacturer), clean(r.Model), clean(r.FirmwareVersion), clean(r.SerialNumber), clean(r.HardwareId)}, nil
}

// MediaAddress finds the media service of the device whose device service
// is at xaddr: from GetCapabilities, or from GetServices for devices that
// dropped the older call. A refusal of the credentials ends the search.
func (c *Client) MediaAddress(ctx context.Context, xaddr string) (string, error) {
	data, err := c.call(ctx, xaddr, nsDevice, "GetCapabilities", `<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>`)
	if err == nil {
		if addr, perr := parseCapabilities(data); perr == nil {
			return addr, nil
		} else {
			err = perr
		}
	}
	if errors.Is(err, ErrNotAuthorized) || ctx.Err() != nil {
		return "", err
	}
	data, err2 := c.call(ctx, xaddr, nsDevice, "GetServices", `<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>`)
	if err2 != nil {
		return "", fmt.Errorf("%v; %w", err, err2)
	}
	return parseServices(data)
}

func parseCapabilities(data []byte) (string, error) {
	var env struct {
		XMLName xml.Name `xml:"Envelope"`
		XAddr   []string `xml:"Body>GetCapabilitiesResponse>Capabilities>Media>XAddr"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return "", fmt.Errorf("GetCapabilities: unreadable answer: %w", err)
	}
	for _, a := range env.XAddr {
		if a = strings.TrimSpace(a); httpURL(a) {
			return a, nil
		}
	}
	return "", errors.New("GetCapabilities: the device names no media service")
}

func parseServices(data []byte) (string, error) {
	var env struct {
		XMLName  xml.Name `xml:"Envelope"`
		Services []struct {
			Namespace, XAddr string
		} `xml:"Body>GetServicesResponse>Service"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return "", fmt.Errorf("GetServices: unreadable answer: %w", err)
	}
	for _, s := range env.Services {
		if strings.TrimSpace(s.Namespace) == nsMedia && httpURL(strings.TrimSpace(s.XAddr)) {
			return strings.TrimSpace(s.XAddr), nil
		}
	}
	return "", errors.New("GetServices: the device names no media service (ver10)")
}

// httpURL reports whether s is an absolute http or https URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(s) <= 2048
}

// Profile is a media profile with its video encoder settings.
type Profile struct {
	Token, Name   string
	Encoding      string // JPEG, MPEG4, H264 (Media 1.0), or "" without a video encoder
	Width, Height int
	FPS           int // the encoder's frame rate limit, 0 if not given
}

// maxProfiles bounds how many profiles of one device are kept.
const maxProfiles = 64

// Profiles lists the media profiles of the media service at mediaAddr.
func (c *Client) Profiles(ctx context.Context, mediaAddr string) ([]Profile, error) {
	data, err := c.call(ctx, mediaAddr, nsMedia, "GetProfiles", `<trt:GetProfiles/>`)
	if err != nil {
		return nil, err
	}
	return parseProfiles(data)
}

func parseProfiles(data []byte) ([]Profile, error) {
	var env struct {
		XMLName  xml.Name `xml:"Envelope"`
		Response *struct {
			Profiles []struct {
				Token string `xml:"token,attr"`
				Name  string
				Video *struct {
					Encoding string
					Width    string `xml:"Resolution>Width"`
					Height   string `xml:"Resolution>Height"`
					FPS      string `xml:"RateControl>FrameRateLimit"`
				} `xml:"VideoEncoderConfiguration"`
			}
		} `xml:"Body>GetProfilesResponse"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("GetProfiles: unreadable answer: %w", err)
	}
	if env.Response == nil {
		return nil, errors.New("GetProfiles: the answer holds no GetProfilesResponse")
	}
	var ps []Profile
	for _, x := range env.Response.Profiles {
		if len(ps) == maxProfiles {
			break
		}
		p := Profile{Token: clean(x.Token), Name: clean(x.Name)}
		if p.Token == "" {
			continue // GetStreamUri needs it
		}
		if v := x.Video; v != nil {
			p.Encoding = clean(v.Encoding)
			p.Width, p.Height, p.FPS = dimension(v.Width), dimension(v.Height), dimension(v.FPS)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// dimension reads a non-negative size or rate, 0 when it is missing or
// absurd.
func dimension(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 1<<16 {
		return 0
	}
	return n
}

// StreamURI asks the media service for profile's RTSP address (RTP unicast,
// RTSP transport).
func (c *Client) StreamURI(ctx context.Context, mediaAddr, profileToken string) (string, error) {
	body := `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>` +
		`<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>` +
		`<trt:ProfileToken>` + escape(profileToken) + `</trt:ProfileToken></trt:GetStreamUri>`
	data, err := c.call(ctx, mediaAddr, nsMedia, "GetStreamUri", body)
	if err != nil {
		return "", err
	}
	return parseStreamURI(data)
}

func parseStreamURI(data []byte) (string, error) {
	var env struct {
		XMLName xml.Name `xml:"Envelope"`
		URI     []string `xml:"Body>GetStreamUriResponse>MediaUri>Uri"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return "", fmt.Errorf("GetStreamUri: unreadable answer: %w", err)
	}
	if len(env.URI) == 0 {
		return "", errors.New("GetStreamUri: the answer holds no MediaUri")
	}
	uri := strings.TrimSpace(env.URI[0])
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" || len(uri) > 2048 || clean(uri) != uri {
		return "", fmt.Errorf("GetStreamUri: %q is not an rtsp:// address", redact.URL(clean(uri)))
	}
	return uri, nil
}

// Scopes asks the device service at xaddr for its scopes, which a
// ProbeMatch carries too: a device asked by address was never probed.
func (c *Client) Scopes(ctx context.Context, xaddr string) ([]string, error) {
	data, err := c.call(ctx, xaddr, nsDevice, "GetScopes", `<tds:GetScopes/>`)
	if err != nil {
		return nil, err
	}
	return parseScopes(data)
}

func parseScopes(data []byte) ([]string, error) {
	var env struct {
		XMLName xml.Name `xml:"Envelope"`
		Items   []string `xml:"Body>GetScopesResponse>Scopes>ScopeItem"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("GetScopes: unreadable answer: %w", err)
	}
	var out []string
	for _, s := range env.Items {
		if s = strings.TrimSpace(s); s != "" && len(s) <= 1024 && len(out) < maxScopes {
			out = append(out, s)
		}
	}
	return out, nil
}

// DeviceTime asks the device service at xaddr for its clock (UTC), without
// credentials, as ONVIF allows before authentication: a device whose clock
// is far off refuses UsernameTokens created by a correct one.
func (c *Client) DeviceTime(ctx context.Context, xaddr string) (time.Time, error) {
	anon := &Client{Timeout: c.Timeout, Transport: c.Transport}
	data, err := anon.call(ctx, xaddr, nsDevice, "GetSystemDateAndTime", `<tds:GetSystemDateAndTime/>`)
	if err != nil {
		return time.Time{}, err
	}
	return parseDeviceTime(data)
}

func parseDeviceTime(data []byte) (time.Time, error) {
	var env struct {
		XMLName xml.Name `xml:"Envelope"`
		T       *struct {
			Hour   string `xml:"Time>Hour"`
			Minute string `xml:"Time>Minute"`
			Second string `xml:"Time>Second"`
			Year   string `xml:"Date>Year"`
			Month  string `xml:"Date>Month"`
			Day    string `xml:"Date>Day"`
		} `xml:"Body>GetSystemDateAndTimeResponse>SystemDateAndTime>UTCDateTime"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return time.Time{}, fmt.Errorf("GetSystemDateAndTime: unreadable answer: %w", err)
	}
	if env.T == nil {
		return time.Time{}, errors.New("GetSystemDateAndTime: the answer holds no UTC time")
	}
	n := func(s string, lo, hi int) (int, bool) {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		return v, err == nil && v >= lo && v <= hi
	}
	y, ok1 := n(env.T.Year, 1970, 9999)
	mo, ok2 := n(env.T.Month, 1, 12)
	d, ok3 := n(env.T.Day, 1, 31)
	h, ok4 := n(env.T.Hour, 0, 23)
	mi, ok5 := n(env.T.Minute, 0, 59)
	s, ok6 := n(env.T.Second, 0, 60)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, errors.New("GetSystemDateAndTime: the UTC time is not a date")
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC), nil
}
