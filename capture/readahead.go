package capture

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// readAheadSize is what one read of a camera's TCP connection may take
	// in. gortsplib reads the connection through a 4 KB bufio.Reader, so a
	// frame of a 1080p camera (20-200 KB, sent back to back) would cost one
	// read system call per 4 KB; with this buffer it costs one per wake-up.
	readAheadSize = 64 << 10
	// idleReadInterval is the longest a camera nobody watches waits to be
	// read: its packets wait in the kernel's socket buffer and are taken
	// in batches of about idleLowWater, at most this far apart. Waking for
	// every packet is most of what an unwatched camera costs; reading in
	// batches keeps the GOP cache at most this far behind, and a viewer
	// arriving ends the wait at once. A 1 Mbit/s camera is read 10 times a
	// second, a 6 Mbit/s one about 23 times, so the socket never holds
	// much more than a batch and the camera's TCP window stays open.
	idleReadInterval = 100 * time.Millisecond
	// idleLowWater is the batch size, and the SO_RCVLOWAT of an idle
	// camera's socket while its reader pauses. Pausing the reader is not
	// enough: the kernel would still wake the Go netpoller for every TCP
	// segment that arrives. With a low-water mark it signals readability
	// only once this much is queued.
	idleLowWater = 32 << 10
	// minIdleStep is the shortest step of idleDeadline's grid.
	minIdleStep = idleReadInterval / 8
)

// readPacer tells a camera's connection whether it may batch its reads.
type readPacer struct {
	idle atomic.Bool
	// playing is set once the session plays: the RTSP handshake before it
	// is never paced, so connecting stays as fast as it can be.
	playing atomic.Bool
	wake    chan struct{} // signalled when idle turns false
}

func newReadPacer() *readPacer { return &readPacer{wake: make(chan struct{}, 1)} }

func (p *readPacer) setIdle(idle bool) {
	if p.idle.Swap(idle) == idle || idle {
		return
	}
	// A reader in the middle of a pause gets the news at once.
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// readAheadConn serves small reads from a larger buffer it fills with one
// read of the connection, and paces those reads while its camera is idle.
type readAheadConn struct {
	net.Conn
	raw   syscall.RawConn // nil if the connection has no file descriptor
	buf   []byte
	r, w  int
	pacer *readPacer
	timer *time.Timer
	last  time.Time // when the last read of the connection returned
	full  bool      // it filled buf: more may be waiting, do not pause
	rate  float64   // bytes a second the camera sent, as of the last read
}

func (c *readAheadConn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if len(p) >= len(c.buf) {
			return c.Conn.Read(p)
		}
		c.pause()
		n, err := c.readConn(c.buf)
		now := time.Now()
		if n > 0 && !c.last.IsZero() {
			c.rate = float64(n) / max(now.Sub(c.last).Seconds(), 1e-3)
		}
		c.last, c.full = now, n == len(c.buf)
		c.r, c.w = 0, n
		if n == 0 {
			return 0, err
		}
		// An error that came with data is returned by the next read,
		// as io.Reader allows.
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// pause waits, while the camera is idle and the socket was drained last
// time, until about idleLowWater bytes should have arrived at the camera's
// last rate, or idleReadInterval has passed since the last read.
func (c *readAheadConn) pause() {
	if c.pacer == nil || c.full || !c.pacer.idle.Load() || !c.pacer.playing.Load() {
		return
	}
	wait := time.Until(idleDeadline(c.last, c.rate))
	if wait <= 0 {
		return
	}
	// The mark is raised only for the pause: a reader parked with it
	// raised would wait for 32 KB from a camera that sends one small frame
	// a second, and time out.
	c.setLowWater(true)
	if c.timer == nil {
		c.timer = time.NewTimer(wait)
	} else {
		c.timer.Reset(wait)
	}
	select {
	case <-c.timer.C:
	case <-c.pacer.wake:
		c.timer.Stop()
	}
	c.setLowWater(false)
}

// idleWait is how long after a read an idle camera sending rate bytes a
// second is read again.
func idleWait(rate float64) time.Duration {
	if rate <= 0 {
		return idleReadInterval
	}
	return min(idleReadInterval, time.Duration(idleLowWater/rate*float64(time.Second)))
}

// idleDeadline is when an idle camera last read at last, sending rate bytes
// a second, is read next: the first tick after last on a grid whose step is
// idleWait(rate) rounded down to idleReadInterval/2^k. The ticks are
// instants shared by every camera (multiples of the step since the zero
// time), and a step is a multiple of every smaller one, so the daemon's idle
// cameras are read together, in a few wake-ups of the process a second,
// instead of each waking it on its own schedule: at 8 cameras, 10 wake-ups
// a second instead of 80, and the wake-up, not the read, is what costs.
func idleDeadline(last time.Time, rate float64) time.Time {
	step, wait := idleReadInterval, idleWait(rate)
	for step > wait && step > minIdleStep {
		step /= 2
	}
	return last.Truncate(step).Add(step)
}

// dialReadAhead wraps a dial function so its connections read ahead, paced
// by pacer.
func dialReadAhead(dial func(ctx context.Context, network, addr string) (net.Conn, error), pacer *readPacer) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &readAheadConn{Conn: conn, buf: make([]byte, readAheadSize), pacer: pacer}
		if sc, ok := conn.(syscall.Conn); ok {
			c.raw, _ = sc.SyscallConn()
		}
		return c, nil
	}
}
