package ratelimit

import (
	"net"
	"sync"
)

// LimitConns returns a listener that holds at most perAddr connections
// open at once from one client address: beyond that, a new connection is
// closed as soon as it is accepted. Without it, one anonymous client
// could open connections until the daemon runs out of file descriptors,
// each held for as long as the server's deadlines allow.
func LimitConns(ln net.Listener, perAddr int) net.Listener {
	return &connLimiter{Listener: ln, max: perAddr, open: make(map[string]int)}
}

type connLimiter struct {
	net.Listener
	max int

	mu   sync.Mutex
	open map[string]int
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := hostOf(c.RemoteAddr())
		l.mu.Lock()
		full := l.open[addr] >= l.max
		if !full {
			l.open[addr]++
		}
		l.mu.Unlock()
		if full {
			c.Close()
			continue
		}
		return &countedConn{Conn: c, release: sync.OnceFunc(func() { l.release(addr) })}, nil
	}
}

func (l *connLimiter) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[addr]--; l.open[addr] <= 0 {
		delete(l.open, addr)
	}
}

func hostOf(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// countedConn gives its place back when it closes, once.
type countedConn struct {
	net.Conn
	release func()
}

func (c *countedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
