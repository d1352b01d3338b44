package onvif

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// MulticastAddr is where WS-Discovery probes go (SOAP-over-UDP).
const MulticastAddr = "239.255.255.250:3702"

// Interface is a network interface to probe on, with the IPv4 address the
// probe is sent from and answers come back to.
type Interface struct {
	Name string
	IP   netip.Addr
	net  net.Interface
}

// Interfaces returns the interfaces to probe on: the one named, which may
// be loopback, or else every interface that is up, multicast-capable, not
// loopback and has an IPv4 address.
func Interfaces(name string) ([]Interface, error) {
	if name != "" {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("interface %q: %w", name, err)
		}
		switch {
		case ifc.Flags&net.FlagUp == 0:
			return nil, fmt.Errorf("interface %s is down", name)
		case ifc.Flags&(net.FlagMulticast|net.FlagLoopback) == 0:
			return nil, fmt.Errorf("interface %s cannot send multicast", name)
		}
		ip, ok := ipv4Of(ifc)
		if !ok {
			return nil, fmt.Errorf("interface %s has no IPv4 address", name)
		}
		return []Interface{{Name: ifc.Name, IP: ip, net: *ifc}}, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []Interface
	for _, ifc := range all {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagMulticast == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if ip, ok := ipv4Of(&ifc); ok {
			out = append(out, Interface{Name: ifc.Name, IP: ip, net: ifc})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no interface is up, multicast-capable and has an IPv4 address (loopback aside); name one with --interface")
	}
	return out, nil
}

// ipv4Of returns the interface's first IPv4 address, preferring one that
// is not link-local.
func ipv4Of(ifc *net.Interface) (netip.Addr, bool) {
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, false
	}
	var found netip.Addr
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if ip = ip.Unmap(); !ok || !ip.Is4() {
			continue
		}
		if !ip.IsLinkLocalUnicast() {
			return ip, true
		}
		if !found.IsValid() {
			found = ip
		}
	}
	return found, found.IsValid()
}

// Match is one device that answered a probe.
type Match struct {
	// Endpoint is the device's endpoint reference address, stable across
	// its addresses and reboots (usually urn:uuid:…).
	Endpoint string
	// XAddrs are the device service's addresses (http://ip/onvif/device_service).
	XAddrs []string
	// Scopes describe the device, e.g. onvif://www.onvif.org/name/….
	Scopes []string
	// Interface is where the first answer came in.
	Interface string
}

// Limits on what one probe collects, so that a flood of answers costs
// bounded memory.
const (
	maxMatches = 1024
	maxXAddrs  = 8
	maxScopes  = 64
	// resendAfter is when the probe is sent a second time, as SOAP-over-UDP
	// repeats multicast messages against loss.
	resendAfter = 250 * time.Millisecond
)

// Discover sends a WS-Discovery Probe for NetworkVideoTransmitters on each
// interface and collects the answers for wait (or until ctx ends), merging
// answers from the same endpoint. When probing fails on some interfaces,
// the error says which and why, and the matches from the others are
// returned with it.
func Discover(ctx context.Context, ifaces []Interface, wait time.Duration) ([]Match, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		matches []Match
		errs    []error
	)
	for _, ifc := range ifaces {
		wg.Go(func() {
			ms, err := probeOn(ctx, ifc, wait)
			mu.Lock()
			defer mu.Unlock()
			matches = append(matches, ms...)
			if err != nil {
				errs = append(errs, fmt.Errorf("probe on %s (%s): %w", ifc.Name, ifc.IP, err))
			}
		})
	}
	wg.Wait()
	return merge(matches), errors.Join(errs...)
}

// merge folds matches of the same endpoint into one and sorts them by
// address.
func merge(matches []Match) []Match {
	var out []Match
	index := map[string]int{}
	for _, m := range matches {
		key := m.Endpoint
		if key == "" && len(m.XAddrs) > 0 {
			key = m.XAddrs[0]
		}
		i, seen := index[key]
		if !seen {
			index[key] = len(out)
			out = append(out, m)
			continue
		}
		out[i].XAddrs = union(out[i].XAddrs, m.XAddrs, maxXAddrs)
		out[i].Scopes = union(out[i].Scopes, m.Scopes, maxScopes)
	}
	slices.SortStableFunc(out, func(a, b Match) int { return cmp.Compare(sortKey(a), sortKey(b)) })
	return out
}

func union(a, b []string, limit int) []string {
	for _, s := range b {
		if len(a) < limit && !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// sortKey orders devices by their first address's IP, numerically.
func sortKey(m Match) string {
	if len(m.XAddrs) == 0 {
		return "~" + m.Endpoint
	}
	host := m.XAddrs[0]
	if _, rest, ok := strings.Cut(host, "://"); ok {
		host = rest
	}
	host, _, _ = strings.Cut(host, "/")
	if ap, err := netip.ParseAddrPort(host); err == nil {
		host = ap.Addr().String()
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		b := ip.As4()
		return fmt.Sprintf("%03d.%03d.%03d.%03d %s", b[0], b[1], b[2], b[3], m.Endpoint)
	}
	return host + " " + m.Endpoint
}

// probeOn probes on one interface from a socket bound to its address.
func probeOn(ctx context.Context, ifc Interface, wait time.Duration) ([]Match, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ifc.IP.AsSlice()})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn)
	if err := pc.SetMulticastInterface(&ifc.net); err != nil {
		return nil, fmt.Errorf("choose it for multicast: %w", err)
	}
	// Cameras answer from the same segment; a probe has no business
	// crossing routers.
	if err := pc.SetMulticastTTL(1); err != nil {
		return nil, fmt.Errorf("set the multicast TTL: %w", err)
	}
	id, err := messageID()
	if err != nil {
		return nil, err
	}
	probe := probeMessage(id)
	dst := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(MulticastAddr))
	if _, err := conn.WriteTo(probe, dst); err != nil {
		return nil, fmt.Errorf("send the probe to %s: %w", MulticastAddr, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	start := time.Now()
	deadline := start.Add(wait)
	resent := false
	first := start.Add(resendAfter)
	if deadline.Before(first) {
		first = deadline
	}
	_ = conn.SetReadDeadline(first)
	var matches []Match
	buf := make([]byte, 64<<10)
	for len(matches) < maxMatches && ctx.Err() == nil {
		n, _, err := conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) && !resent && time.Now().Before(deadline) && ctx.Err() == nil {
			resent = true
			_, _ = conn.WriteTo(probe, dst)
			_ = conn.SetReadDeadline(deadline)
			continue
		}
		if err != nil {
			break
		}
		ms, err := ParseProbeMatches(buf[:n], id)
		if err != nil {
			continue // not an answer to us; other traffic on the port
		}
		for _, m := range ms {
			m.Interface = ifc.Name
			matches = append(matches, m)
		}
	}
	return matches, nil
}

// messageID returns a fresh urn:uuid: (version 4) for a probe.
func messageID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("make a message id: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// probeMessage is a WS-Discovery (2005/04, as ONVIF uses it) Probe for
// network video transmitters.
func probeMessage(id string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
		`xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">` +
		`<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>` +
		`<a:MessageID>` + id + `</a:MessageID>` +
		`<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>` +
		`<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>` +
		`<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`)
}

// ParseProbeMatches reads a ProbeMatches message and returns its network
// video transmitters. When messageID is set, a message that relates to
// another probe is an error.
func ParseProbeMatches(data []byte, messageID string) ([]Match, error) {
	var env struct {
		XMLName   xml.Name `xml:"Envelope"`
		RelatesTo string   `xml:"Header>RelatesTo"`
		Matches   *struct {
			Match []struct {
				Address string `xml:"EndpointReference>Address"`
				Types   string
				Scopes  string
				XAddrs  string
			} `xml:"ProbeMatch"`
		} `xml:"Body>ProbeMatches"`
	}
	if err := xml.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("unreadable ProbeMatches: %w", err)
	}
	if env.Matches == nil {
		return nil, errors.New("not a ProbeMatches message")
	}
	if rel := strings.TrimSpace(env.RelatesTo); messageID != "" && rel != "" && rel != messageID {
		return nil, errors.New("ProbeMatches for another probe")
	}
	var out []Match
	for _, x := range env.Matches.Match {
		if len(out) == maxMatches {
			break
		}
		if !slices.ContainsFunc(strings.Fields(x.Types), func(t string) bool { return localName(t) == "NetworkVideoTransmitter" }) {
			continue
		}
		m := Match{Endpoint: clean(x.Address)}
		for _, a := range strings.Fields(x.XAddrs) {
			if len(m.XAddrs) < maxXAddrs && httpURL(a) && !slices.Contains(m.XAddrs, a) {
				m.XAddrs = append(m.XAddrs, a)
			}
		}
		for _, s := range strings.Fields(x.Scopes) {
			if len(m.Scopes) < maxScopes && len(s) <= 1024 {
				m.Scopes = append(m.Scopes, s)
			}
		}
		out = append(out, m)
	}
	return out, nil
}
