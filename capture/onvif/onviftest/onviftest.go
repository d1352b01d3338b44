// Package onviftest is a simulated ONVIF camera for tests, written from the
// ONVIF Core and Media (1.0) specifications and shaped like what
// Hikvision-style devices send: it answers WS-Discovery Probes on UDP
// 3702 with a ProbeMatch, serves the device service (GetDeviceInformation,
// GetCapabilities, GetServices) at http://ip:port/onvif/device_service and
// the media service (GetProfiles, GetStreamUri) at /onvif/Media, checks
// the WS-UsernameToken digest (or HTTP digest authentication) of every
// request and answers a SOAP 1.2 fault env:Sender/ter:NotAuthorized to bad
// credentials. It deliberately shares no code with the client it tests.
package onviftest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options describe the simulated device. The zero value is a device
// without credentials and without profiles, on 127.0.0.1.
type Options struct {
	// Addr is the HTTP listen address; default "127.0.0.1:0". Its IP is
	// the one in the device's XAddrs.
	Addr string
	// User and Password, when User is set, are the only credentials the
	// device accepts.
	User, Password string
	// HTTPDigest makes the device demand HTTP digest authentication (401
	// with WWW-Authenticate: Digest) instead of the WS-UsernameToken, as
	// some firmware does.
	HTTPDigest bool
	// NoCapabilities answers GetCapabilities with ter:ActionNotSupported,
	// as devices that dropped it do, so clients must use GetServices.
	NoCapabilities bool
	// ClockOffset sets the device's clock this far from the host's. The
	// device refuses UsernameTokens created more than five minutes from
	// its own time, as real devices refuse replayed ones.
	ClockOffset time.Duration
	// NeverAnswer makes the device accept HTTP requests and never answer
	// them (a hung web server); discovery still works.
	NeverAnswer bool
	// What GetDeviceInformation answers.
	Manufacturer, Model, Firmware, Serial, Hardware string
	// Name is the scope onvif://www.onvif.org/name/<Name> (escaped).
	Name string
	// UUID is the endpoint reference (urn:uuid:UUID); default random.
	UUID string
	// Profiles are the media profiles, in the order GetProfiles lists them.
	Profiles []Profile
}

// Profile is one media profile and the stream GetStreamUri gives for it.
type Profile struct {
	Token, Name        string
	Encoding           string // default H264
	Width, Height, FPS int
	URI                string // rtsp://…, e.g. a testcamera's URL
}

// Device is a running simulated device.
type Device struct {
	opts  Options
	ln    net.Listener
	srv   *http.Server
	xaddr string

	mu        sync.Mutex
	udp       []net.PacketConn
	requests  int
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Start starts the device's web services.
func Start(opts Options) (*Device, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.UUID == "" {
		var u [16]byte
		_, _ = rand.Read(u[:])
		opts.UUID = fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("onviftest: %w", err)
	}
	d := &Device{opts: opts, ln: ln, closed: make(chan struct{})}
	d.xaddr = "http://" + ln.Addr().String() + "/onvif/device_service"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /onvif/device_service", d.serveSOAP)
	mux.HandleFunc("POST /onvif/Media", d.serveSOAP)
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.wg.Go(func() { _ = d.srv.Serve(ln) })
	return d, nil
}

// XAddr is the device service address, as the ProbeMatch gives it.
func (d *Device) XAddr() string { return d.xaddr }

// Endpoint is the device's endpoint reference address.
func (d *Device) Endpoint() string { return "urn:uuid:" + d.opts.UUID }

// Requests counts the SOAP requests the device has received.
func (d *Device) Requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}

// mediaAddr is the media service address GetCapabilities gives.
func (d *Device) mediaAddr() string {
	return strings.TrimSuffix(d.xaddr, "/device_service") + "/Media"
}

// Close stops the device and waits for its goroutines.
func (d *Device) Close() {
	d.closeOnce.Do(func() {
		close(d.closed)
		_ = d.srv.Close()
		d.mu.Lock()
		for _, c := range d.udp {
			_ = c.Close()
		}
		d.mu.Unlock()
		d.wg.Wait()
	})
}

// ErrClosed is returned by ServeDiscovery on a closed device.
var ErrClosed = errors.New("onviftest: device closed")
