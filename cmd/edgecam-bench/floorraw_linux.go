package main

import (
	"io"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawRead returns a read function for conn that makes read(2) as a raw
// system call once the netpoller says the socket is readable, as edgecam's
// camera connections do (capture/rawread_linux.go).
func rawRead(conn net.Conn) func([]byte) (int, error) {
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return conn.Read
	}
	return func(b []byte) (int, error) {
		var n int
		var errno unix.Errno
		err := rc.Read(func(fd uintptr) bool {
			r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			n, errno = int(r), e
			return e != unix.EAGAIN
		})
		switch {
		case err != nil:
			return 0, err
		case errno != 0:
			return 0, errno
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// rawSend returns a function that sends one datagram from udp to to with
// sendto(2) as a raw system call, as edgecam's viewer sends are.
func rawSend(udp *net.UDPConn, to *net.UDPAddr) func([]byte) {
	rc, err := udp.SyscallConn()
	ip4 := to.IP.To4()
	if err != nil || ip4 == nil {
		return func(b []byte) { _, _ = udp.WriteToUDP(b, to) }
	}
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte(ip4)}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(to.Port>>8), byte(to.Port)
	return func(b []byte) {
		_ = rc.Write(func(fd uintptr) bool {
			_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0,
				uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4)
			return e != unix.EAGAIN
		})
	}
}
