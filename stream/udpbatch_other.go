//go:build !linux

package stream

import "net/netip"

// sendGSO is Linux-only; elsewhere batches are sent packet by packet.
func (c *batchConn) sendGSO(run []byte, seg int, addr netip.AddrPort) bool { return false }
