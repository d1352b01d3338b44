package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/edgecam/edgecam/daemon/config"
)

// The postinst tells a user whose edgecam did not start to run `edgecam
// check`: a port another program holds is the usual reason, so check binds
// each address for a moment (which disturbs no one: it fails while another
// program listens there) and names what holds a taken one.

// checkPorts returns the problems with cfg's listen address and UDP port.
// A port held by a running edgecam is not one: that is the service this
// file is for, being checked before a reload.
func checkPorts(cfg *config.Config, skip bool) []string {
	if skip {
		return nil
	}
	var problems []string
	if p := checkBind("tcp", cfg.HTTP.Listen); p != "" {
		problems = append(problems, "http.listen: "+p)
	}
	if port := cfg.WebRTC.UDPPort; port > 0 {
		if p := checkBind("udp", ":"+strconv.Itoa(port)); p != "" {
			problems = append(problems, "webrtc.udp_port: "+p)
		}
	}
	return problems
}

// checkBind says why addr cannot be bound on network, or "".
func checkBind(network, addr string) string {
	var err error
	if network == "tcp" {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			ln.Close()
		}
	} else {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", addr); err == nil {
			pc.Close()
		}
	}
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.EADDRINUSE):
		_, port, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		pid, name := portHolder(network, n)
		switch {
		case name == "edgecam":
			return "" // the running service
		case pid > 0:
			return fmt.Sprintf("%s port %d is in use by %s (pid %d); stop it or choose another port", network, n, name, pid)
		}
		return fmt.Sprintf("%s port %d is in use by another program (run this with sudo to see which); stop it or choose another port", network, n)
	case errors.Is(err, syscall.EACCES):
		return fmt.Sprintf("%s: permission denied (ports below 1024 need privileges the service does not have)", addr)
	}
	return err.Error()
}

// portHolder finds the process listening on port, from /proc, or 0 when
// it cannot be seen (another user's, without root).
func portHolder(network string, port int) (pid int, name string) {
	inodes := map[string]bool{}
	// /proc/self/net, not /proc/net: a sandbox with ProcSubset=pid hides
	// the latter.
	for _, f := range []string{"/proc/self/net/" + network, "/proc/self/net/" + network + "6"} {
		for inode := range socketInodes(f, port, network == "tcp") {
			inodes[inode] = true
		}
	}
	if len(inodes) == 0 {
		return 0, ""
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			dir := filepath.Dir(filepath.Dir(fd))
			pid, _ = strconv.Atoi(filepath.Base(dir))
			comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
			return pid, strings.TrimSpace(string(comm))
		}
	}
	return 0, ""
}

// socketInodes returns the inodes of the sockets on port in a
// /proc/net/{tcp,udp}[6] table; for TCP, listening ones only.
func socketInodes(table string, port int, listening bool) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(table)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(p) != port || (listening && fields[3] != "0A") {
			continue
		}
		out[fields[9]] = true
	}
	return out
}
