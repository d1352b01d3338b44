package whep

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSpace is the control message of a GSO send: CmsgSpace(2), the
// UDP_SEGMENT option's uint16.
var oobSpace = unix.CmsgSpace(2)

// mmsghdr is the kernel's struct mmsghdr: Go pads it as C does, to the
// alignment of the msghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sendScratch is what a batch's sendmmsg needs, kept between sends so that
// sending allocates nothing once the batch has seen its largest unit.
type sendScratch struct {
	msgs []mmsghdr
	iovs []unix.Iovec
	oob  []byte
	sa4  unix.RawSockaddrInet4
	sa6  unix.RawSockaddrInet6
}

// sendRuns sends every run in as few sendmmsg calls as the kernel takes
// (one, unless the socket buffer fills), each run of more than one packet as
// one GSO message. A message the kernel refuses is lost like a datagram;
// a refused GSO message turns GSO off on this socket and the rest goes
// packet by packet.
func (c *batchConn) sendRuns(s *sendScratch, data []byte, runs []sendRun, addr netip.AddrPort) {
	if c.raw == nil {
		c.sendEach(data, runs, addr)
		return
	}
	s.fill(data, runs, addr)
	for sent := 0; sent < len(runs); {
		var n int
		var errno unix.Errno
		err := c.raw.Write(func(fd uintptr) bool {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.msgs[sent])), uintptr(len(runs)-sent), 0, 0, 0)
			n, errno = int(r), e
			return e != unix.EAGAIN
		})
		switch {
		case err != nil:
			return // the socket is closed
		case errno == 0 && n > 0:
			sent += n
		case runs[sent].count > 1 && gsoRefused(errno):
			c.noGSO.Store(true)
			c.sendEach(data, runs[sent:], addr)
			return
		default:
			sent++ // this message is lost; the viewer NACKs or waits
		}
	}
}

func gsoRefused(errno unix.Errno) bool {
	return errors.Is(errno, unix.EIO) || errors.Is(errno, unix.EINVAL) ||
		errors.Is(errno, unix.ENOPROTOOPT) || errors.Is(errno, unix.EOPNOTSUPP)
}

// fill lays out one message per run, all to addr.
func (s *sendScratch) fill(data []byte, runs []sendRun, addr netip.AddrPort) {
	if cap(s.msgs) < len(runs) {
		s.msgs = make([]mmsghdr, len(runs))
		s.iovs = make([]unix.Iovec, len(runs))
		s.oob = make([]byte, len(runs)*oobSpace)
	}
	s.msgs, s.iovs, s.oob = s.msgs[:len(runs)], s.iovs[:len(runs)], s.oob[:len(runs)*oobSpace]

	var name *byte
	var namelen uint32
	port := addr.Port()
	if a := addr.Addr(); a.Is4() {
		s.sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.sa4.Port))[:], port)
		name, namelen = (*byte)(unsafe.Pointer(&s.sa4)), unix.SizeofSockaddrInet4
	} else {
		s.sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.sa6.Port))[:], port)
		name, namelen = (*byte)(unsafe.Pointer(&s.sa6)), unix.SizeofSockaddrInet6
	}
	for i, r := range runs {
		iov := &s.iovs[i]
		iov.Base = &data[r.off]
		iov.SetLen(r.total)
		m := &s.msgs[i]
		m.hdr = unix.Msghdr{Name: name, Namelen: namelen, Iov: iov}
		m.hdr.SetIovlen(1)
		m.n = 0
		if r.count > 1 {
			oob := s.oob[i*oobSpace : (i+1)*oobSpace]
			h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
			h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			h.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(r.seg))
			m.hdr.Control = &oob[0]
			m.hdr.SetControllen(oobSpace)
		}
	}
}
