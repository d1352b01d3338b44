package onviftest

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"strings"
	"syscall"

	"golang.org/x/net/ipv4"
)

// ServeDiscovery answers WS-Discovery Probes that reach UDP port 3702 on
// the named interfaces, until Close. Several devices can serve discovery
// on one host: the port is shared (SO_REUSEADDR) and each socket gets its
// own copy of every multicast probe. Tests call it only inside a network
// namespace of their own, so no probe reaches a real network.
func (d *Device) ServeDiscovery(ifaces ...string) error {
	select {
	case <-d.closed:
		return ErrClosed
	default:
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:3702")
	if err != nil {
		return fmt.Errorf("onviftest: listen for probes: %w", err)
	}
	pc := ipv4.NewPacketConn(conn)
	group := &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250)}
	for _, name := range ifaces {
		ifc, err := net.InterfaceByName(name)
		if err == nil {
			err = pc.JoinGroup(ifc, group)
		}
		if err != nil {
			conn.Close()
			return fmt.Errorf("onviftest: join 239.255.255.250 on %s: %w", name, err)
		}
	}
	d.mu.Lock()
	d.udp = append(d.udp, conn)
	d.mu.Unlock()
	d.wg.Go(func() { d.answerProbes(conn) })
	return nil
}

// answerProbes answers each Probe for network video transmitters, or for
// any type, with a unicast ProbeMatches to its sender.
func (d *Device) answerProbes(conn net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		var probe struct {
			XMLName   xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
			MessageID string   `xml:"Header>MessageID"`
			Probe     *struct {
				Types string `xml:"Types"`
			} `xml:"Body>Probe"`
		}
		if xml.Unmarshal(buf[:n], &probe) != nil || probe.Probe == nil {
			continue
		}
		if !wantsTransmitter(probe.Probe.Types) {
			continue
		}
		_, _ = conn.WriteTo(d.ProbeMatches(strings.TrimSpace(probe.MessageID)), from)
	}
}

// wantsTransmitter reports whether a Probe's Types match the device: no
// types at all, or one whose local name is NetworkVideoTransmitter.
func wantsTransmitter(types string) bool {
	fields := strings.Fields(types)
	if len(fields) == 0 {
		return true
	}
	for _, t := range fields {
		if t[strings.LastIndex(t, ":")+1:] == "NetworkVideoTransmitter" {
			return true
		}
	}
	return false
}
