package stream

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendGSO sends run, packets of seg bytes (the last may be shorter), as one
// UDP GSO send. It reports false, having sent nothing, when the kernel
// refuses GSO (too old, or the route's device cannot checksum it), and then
// stops trying on this socket.
func (c *batchConn) sendGSO(run []byte, seg int, addr netip.AddrPort) bool {
	if c.raw == nil {
		return false
	}
	var oob [unix.SizeofCmsghdr + 8]byte // CmsgSpace(2)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(seg))
	var sa unix.Sockaddr
	if a := addr.Addr(); a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: a.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: a.As16()}
	}
	var serr error
	err := c.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), run, oob[:unix.CmsgSpace(2)], sa, 0)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, unix.EIO), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOPROTOOPT), errors.Is(err, unix.EOPNOTSUPP):
		c.noGSO.Store(true)
		return false
	default:
		return true // lost like a datagram: the viewer NACKs or waits
	}
}
