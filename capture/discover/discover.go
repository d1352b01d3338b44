// Package discover finds ONVIF cameras on the LAN and turns each into a
// suggested edgecam camera entry: it probes with WS-Discovery, asks each
// device for its name, media profiles and stream addresses, picks the main
// stream (the largest picture) and a sub-stream (the smallest), probes both
// over RTSP as `edgecam probe` does, and writes the result as YAML for the
// configuration's cameras list. Devices that refuse the credentials or do
// not answer are reported with the reason.
package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/onvif"
	"github.com/edgecam/edgecam/capture/redact"
)

// Defaults for the zero values of Options.
const (
	DefaultWait      = 3 * time.Second
	DefaultProbeTime = 5 * time.Second
	// parallel bounds how many devices are asked and probed at once, so a
	// small box probing a large plant keeps its CPU for the cameras it
	// already serves.
	parallel = 4
)

// Options configure Find. The zero value probes every suitable interface
// for DefaultWait, without credentials.
type Options struct {
	// Interface names the one interface to probe on; "" means every
	// interface that is up, multicast-capable, not loopback and has IPv4.
	Interface string
	// Wait is how long answers to the probe are collected; zero means
	// DefaultWait.
	Wait time.Duration
	// Devices, when set, are device service addresses
	// (http://ip/onvif/device_service) asked in addition to, or with
	// NoMulticast instead of, those that answer the probe.
	Devices []string
	// NoMulticast skips WS-Discovery: only Devices are asked.
	NoMulticast bool
	// User and Password are the ONVIF (and RTSP) credentials.
	User, Password string
	// RequestTimeout bounds each ONVIF request; zero means
	// onvif.DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ProbeTime bounds each RTSP probe; zero means DefaultProbeTime and a
	// negative value skips probing.
	ProbeTime time.Duration
	// Log receives progress and problems, one line each; nil discards them.
	Log io.Writer
}

// Camera is what was learned about one device.
type Camera struct {
	Endpoint string // the endpoint reference, or the address when asked directly
	XAddr    string // the device service address used
	Info     onvif.DeviceInfo
	Scopes   []string
	// Main and Sub are the chosen streams; Sub is nil when the device
	// offers one picture size only.
	Main, Sub *Stream
	// Err says why the device gives no camera entry; its text never holds
	// the password.
	Err error
}

// Stream is one profile's stream.
type Stream struct {
	Profile onvif.Profile
	// URI is the stream's address as the device gave it, without
	// credentials.
	URI string
	// Probe is what probing found; nil when probing was skipped or failed,
	// and then ProbeErr says why (password removed).
	Probe    *capture.ProbeResult
	ProbeErr error
}

// Find discovers devices and asks each of them. The error is set when no
// interface could be probed, or only some: then the cameras found on the
// others are returned with it.
func Find(ctx context.Context, o Options) ([]Camera, error) {
	var logMu sync.Mutex // devices are asked in parallel
	logf := func(format string, args ...any) {
		if o.Log != nil {
			logMu.Lock()
			defer logMu.Unlock()
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	var targets []onvif.Match
	var discoverErr error
	if !o.NoMulticast {
		ifaces, err := onvif.Interfaces(o.Interface)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(ifaces))
		for i, ifc := range ifaces {
			names[i] = fmt.Sprintf("%s (%s)", ifc.Name, ifc.IP)
		}
		logf("probing for ONVIF devices on %s for %s", strings.Join(names, ", "), o.Wait)
		targets, discoverErr = onvif.Discover(ctx, ifaces, o.Wait)
		if discoverErr != nil {
			logf("%v", discoverErr)
		}
		logf("%d device(s) answered", len(targets))
		if len(targets) == 0 && discoverErr != nil && len(o.Devices) == 0 {
			return nil, discoverErr
		}
	}
	for _, d := range o.Devices {
		targets = append(targets, onvif.Match{Endpoint: d, XAddrs: []string{d}})
	}
	cams := make([]Camera, len(targets))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, m := range targets {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				cams[i] = Camera{Endpoint: m.Endpoint, Scopes: m.Scopes, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			cams[i] = ask(ctx, o, m, logf)
		})
	}
	wg.Wait()
	return cams, discoverErr
}

// ask turns one device into a Camera.
func ask(ctx context.Context, o Options, m onvif.Match, logf func(string, ...any)) Camera {
	cam := Camera{Endpoint: m.Endpoint, Scopes: m.Scopes}
	cam.XAddr = pickXAddr(m.XAddrs)
	if cam.XAddr == "" {
		cam.Err = errors.New("the device gave no http address for its device service")
		return cam
	}
	c := &onvif.Client{User: o.User, Password: o.Password, Timeout: o.RequestTimeout}
	fail := func(err error) Camera {
		cam.Err = scrub(err, o)
		return cam
	}
	logf("asking %s", cam.XAddr)
	info, err := c.DeviceInformation(ctx, cam.XAddr)
	if errors.Is(err, onvif.ErrNotAuthorized) && o.User != "" {
		err = retryOnDeviceTime(ctx, c, cam.XAddr, err, logf, func() error {
			info, err = c.DeviceInformation(ctx, cam.XAddr)
			return err
		})
	}
	if err != nil && (errors.Is(err, onvif.ErrNotAuthorized) || !isFault(err)) {
		return fail(err)
	}
	cam.Info = info
	if len(cam.Scopes) == 0 {
		// Asked by address, not probed: the name scope is worth a request.
		cam.Scopes, _ = c.Scopes(ctx, cam.XAddr)
	}
	media, err := c.MediaAddress(ctx, cam.XAddr)
	if err != nil {
		return fail(err)
	}
	profiles, err := c.Profiles(ctx, media)
	if err != nil {
		return fail(err)
	}
	main, sub := pickProfiles(profiles)
	if main == nil {
		return fail(fmt.Errorf("none of the device's %d media profile(s) has an H.264 or H.265 video encoder", len(profiles)))
	}
	for _, p := range []*onvif.Profile{main, sub} {
		if p == nil {
			continue
		}
		uri, err := c.StreamURI(ctx, media, p.Token)
		if err != nil {
			if p == main {
				return fail(err)
			}
			logf("%s: no sub-stream: %v", cam.XAddr, scrub(err, o))
			continue
		}
		st := &Stream{Profile: *p, URI: withoutUserinfo(uri)}
		if p == main {
			cam.Main = st
		} else if st.URI != cam.Main.URI {
			cam.Sub = st
		}
	}
	if o.ProbeTime < 0 {
		return cam
	}
	// Main and sub are separate RTSP sessions; probing them at once halves
	// the wait, as each waits for keyframes.
	var wg sync.WaitGroup
	for _, st := range []*Stream{cam.Main, cam.Sub} {
		if st == nil {
			continue
		}
		// RTSP may ask for Basic authentication, which sends the password
		// itself: only to the device that was asked, never to a host that
		// any device on the LAN can name in its answer.
		if s, d := host(st.URI), host(cam.XAddr); s != d && o.Password != "" {
			st.ProbeErr = fmt.Errorf("the stream is on %s, not on the device's host %s; not probed, so that the password goes to the device only", s, d)
			continue
		}
		wg.Go(func() { probe(ctx, o, st, logf) })
	}
	wg.Wait()
	return cam
}

// maxClockSkew is how far the device's clock may be from ours before the
// UsernameToken is created on its time. Devices allow a few seconds to
// minutes.
const maxClockSkew = 5 * time.Second

// retryOnDeviceTime runs again a request the device refused with first,
// with the UsernameToken created on the device's clock, when that clock is
// off: cameras without NTP drift, or come up in 1970, and then refuse good
// credentials. It returns first when the clock is not the reason.
func retryOnDeviceTime(ctx context.Context, c *onvif.Client, xaddr string, first error, logf func(string, ...any), again func() error) error {
	t, err := c.DeviceTime(ctx, xaddr)
	if err != nil {
		return first
	}
	off := time.Until(t)
	if off < maxClockSkew && off > -maxClockSkew {
		return first
	}
	c.ClockOffset = off
	logf("%s: the device's clock is %s off ours; authenticating on its time", xaddr, off.Round(time.Second))
	return again()
}

// probe plays st's stream for a moment to learn its codec and picture.
func probe(ctx context.Context, o Options, st *Stream, logf func(string, ...any)) {
	d := o.ProbeTime
	if d == 0 {
		d = DefaultProbeTime
	}
	u := streamURL(st.URI, o.User, o.Password, true)
	logf("probing %s", redact.URL(u))
	res, err := capture.Probe(ctx, u, capture.TransportAuto, d)
	if err != nil {
		st.ProbeErr = scrub(err, o)
		return
	}
	st.Probe = res
}

// host returns the host of a URL, "" when it has none.
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func isFault(err error) bool {
	var f *onvif.Fault
	return errors.As(err, &f)
}

// pickXAddr prefers an address with an IPv4 literal: a name needs DNS,
// which small plant networks often lack, and IPv6 link-local addresses
// need a zone.
func pickXAddr(xaddrs []string) string {
	for _, a := range xaddrs {
		if u, err := url.Parse(a); err == nil {
			if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Is4() {
				return a
			}
		}
	}
	if len(xaddrs) > 0 {
		return xaddrs[0]
	}
	return ""
}

// pickProfiles chooses the main profile (the largest picture, then the
// highest frame rate, then the first listed) and the sub profile (the
// smallest picture of another size), among the profiles whose encoder
// edgecam may forward. sub is nil when there is no second size.
func pickProfiles(ps []onvif.Profile) (main, sub *onvif.Profile) {
	for i := range ps {
		p := &ps[i]
		switch strings.ToUpper(p.Encoding) {
		case "H264", "H265", "HEVC":
		default:
			continue // JPEG or MPEG4, or no video encoder
		}
		if main == nil || area(p) > area(main) || area(p) == area(main) && p.FPS > main.FPS {
			main = p
		}
		if sub == nil || area(p) < area(sub) {
			sub = p
		}
	}
	if sub != nil && area(sub) == area(main) {
		sub = nil
	}
	return main, sub
}

func area(p *onvif.Profile) int { return p.Width * p.Height }

// withoutUserinfo removes credentials a device put in its stream address:
// the command line's credentials are the ones that go in.
func withoutUserinfo(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	u.User = nil
	return u.String()
}

// streamURL puts user (and password, when withPassword) into uri.
func streamURL(uri, user, password string, withPassword bool) string {
	u, err := url.Parse(uri)
	if err != nil || user == "" {
		return uri
	}
	if withPassword && password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// scrub removes the password, in every spelling a URL or message may give
// it, from err's text.
func scrub(err error, o Options) error {
	if err == nil || o.Password == "" {
		return err
	}
	u := url.URL{Scheme: "rtsp", Host: "x", User: url.UserPassword(o.User, o.Password)}
	return &scrubbed{msg: redact.Secrets(err.Error(), u.String()), err: err}
}

// scrubbed is an error whose text had the password removed; errors.Is and
// errors.As still see the original.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
