package whep

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/pion/transport/v5"
)

// A viewer's packets for one access unit (17 for a 1080p P-frame at 4
// Mbit/s, over 100 for an IDR) would each cost a sendto system call and a
// trip through the kernel's UDP/IP output path, which with several viewers
// is most of what relaying costs. Instead, the session writer opens a batch for
// its viewer's address, pion's writes to that address while it is open are
// queued by the socket, and closing the batch sends runs of equal-sized
// packets with UDP generic segmentation offload (GSO, Linux 4.18+): one trip
// down the stack per run, split into datagrams by the kernel or the NIC. All
// the runs of a unit (an SEI or a parameter STAP-A in front of the slice's
// fragments makes two or three) leave in one sendmmsg system call. Where GSO
// is refused, the packets still leave in one sendmmsg, each its own message;
// elsewhere than Linux, one by one. Its gain, and when it could go:
// batch_on.go.

// maxGSOSegments and maxGSOBytes bound one GSO send (the kernel's
// UDP_MAX_SEGMENTS is 64 on older kernels; a datagram is at most 64 KB).
const (
	maxGSOSegments = 64
	maxGSOBytes    = 60000
)

// batches is the set of open batches, shared by the WebRTC sockets.
type batches struct {
	mu sync.Mutex
	m  map[netip.AddrPort]*udpBatch
}

func newBatches() *batches { return &batches{m: map[netip.AddrPort]*udpBatch{}} }

// udpBatch is one viewer's queue. Only its session's writer opens and sends
// it; other writers (ICE, DTLS, RTCP reports) just join what is queued.
type udpBatch struct {
	addr   netip.AddrPort
	open   bool
	conn   *batchConn // the socket the queued packets were written to
	data   []byte     // the packets back to back
	sizes  []int
	closed bool
	// runs and scratch are the send's bookkeeping, reused: only the
	// batch's writer sends it.
	runs    []sendRun
	scratch sendScratch
}

// add registers a batch for a viewer's address.
func (b *batches) add(addr netip.AddrPort) *udpBatch {
	bt := &udpBatch{addr: unmapAddr(addr)}
	b.mu.Lock()
	b.m[bt.addr] = bt
	b.mu.Unlock()
	return bt
}

// remove forgets a batch, sending what it holds.
func (b *batches) remove(bt *udpBatch) {
	b.send(bt)
	b.mu.Lock()
	if b.m[bt.addr] == bt {
		delete(b.m, bt.addr)
	}
	bt.closed = true
	b.mu.Unlock()
}

// begin opens bt: writes to its address are queued until send.
func (b *batches) begin(bt *udpBatch) {
	b.mu.Lock()
	bt.open = !bt.closed
	b.mu.Unlock()
}

// send closes bt and sends what it queued.
func (b *batches) send(bt *udpBatch) {
	b.mu.Lock()
	bt.open = false
	conn, data, sizes := bt.conn, bt.data, bt.sizes
	bt.conn = nil
	b.mu.Unlock()
	if conn != nil && len(sizes) > 0 {
		bt.runs = conn.sendQueued(&bt.scratch, bt.runs[:0], data, sizes, bt.addr)
	}
	// Only this batch's writer reaches here, and nothing is queued while
	// the batch is not open: the buffers are reused.
	bt.data, bt.sizes = data[:0], sizes[:0]
}

// queue takes a packet for addr if a batch to addr is open on c.
func (b *batches) queue(c *batchConn, p []byte, addr netip.AddrPort) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	bt := b.m[unmapAddr(addr)]
	if bt == nil || !bt.open || (bt.conn != nil && bt.conn != c) {
		return false
	}
	bt.conn = c
	bt.data = append(bt.data, p...)
	bt.sizes = append(bt.sizes, len(p))
	return true
}

func unmapAddr(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// batchConn is a WebRTC UDP socket that queues writes for open batches.
// pion's UDP mux uses it through net.PacketConn and the allocation-free
// ice.AddrPortReaderWriter methods.
type batchConn struct {
	*net.UDPConn
	raw   syscall.RawConn
	b     *batches
	noGSO atomic.Bool // the kernel refused GSO on this socket once
}

func (c *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return c.UDPConn.ReadFromUDPAddrPort(p)
}

func (c *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	if c.b.queue(c, p, addr) {
		return len(p), nil
	}
	return c.UDPConn.WriteToUDPAddrPort(p, addr)
}

func (c *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(p, ua.AddrPort())
	}
	return c.UDPConn.WriteTo(p, addr)
}

// sendRun is a run of packets of one batch that leaves as one datagram
// send: count packets of seg bytes (the last may be shorter), total bytes
// from off.
type sendRun struct {
	off, total, seg, count int
}

// sendQueued sends packets laid out back to back in data: runs of equal
// sizes (the last may be shorter) as one GSO send each, and all the runs of
// the batch in one system call where the platform allows (sendRuns). Errors
// are dropped like a lost datagram's, as pion drops them. It lays the runs
// out in runs and returns it, for reuse.
func (c *batchConn) sendQueued(s *sendScratch, runs []sendRun, data []byte, sizes []int, addr netip.AddrPort) []sendRun {
	noGSO := c.noGSO.Load()
	off := 0
	for i := 0; i < len(sizes); {
		seg := sizes[i]
		j, total := i+1, seg
		for !noGSO && j < len(sizes) && j-i < maxGSOSegments && total+sizes[j] <= maxGSOBytes && sizes[j] <= seg {
			total += sizes[j]
			j++
			if sizes[j-1] < seg {
				break // a shorter segment can only end a run
			}
		}
		runs = append(runs, sendRun{off: off, total: total, seg: seg, count: j - i})
		off += total
		i = j
	}
	c.sendRuns(s, data, runs, addr)
	return runs
}

// sendEach sends runs packet by packet.
func (c *batchConn) sendEach(data []byte, runs []sendRun, addr netip.AddrPort) {
	for _, r := range runs {
		for k := 0; k < r.count; k++ {
			start := r.off + k*r.seg
			end := min(start+r.seg, r.off+r.total)
			_, _ = c.UDPConn.WriteToUDPAddrPort(data[start:end], addr)
		}
	}
}

// transportNet wraps pion's network so the sockets of the UDP mux are
// batchConns.
type transportNet struct {
	transport.Net
	b *batches
}

func (n transportNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return conn, nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return conn, nil
	}
	return &batchConn{UDPConn: uc, raw: raw, b: n.b}, nil
}
