//go:build !linux

package main

import "net"

// rawRead and rawSend are plain elsewhere; see floorraw_linux.go.
func rawRead(conn net.Conn) func([]byte) (int, error) { return conn.Read }

func rawSend(udp *net.UDPConn, to *net.UDPAddr) func([]byte) {
	return func(b []byte) { _, _ = udp.WriteToUDP(b, to) }
}
