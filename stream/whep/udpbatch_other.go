//go:build !linux

package whep

import "net/netip"

// sendScratch holds nothing where batches are sent packet by packet.
type sendScratch struct{}

// sendRuns sends packet by packet: sendmmsg and GSO are Linux-only.
func (c *batchConn) sendRuns(_ *sendScratch, data []byte, runs []sendRun, addr netip.AddrPort) {
	c.sendEach(data, runs, addr)
}
