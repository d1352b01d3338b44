package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
)

// tcpPair returns both ends of a loopback TCP connection, the dialled one
// wrapped as a camera's connection is.
func tcpPair(t *testing.T) (*readAheadConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	var d net.Dialer
	conn, err := dialReadAhead(d.DialContext, nil)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	if conn.(*readAheadConn).raw == nil {
		t.Fatal("a TCP connection has no raw connection to read from")
	}
	t.Cleanup(func() { conn.Close(); peer.Close() })
	// A read that should end at once (data, EOF, a reset) but blocks
	// fails the test at this deadline instead of hanging it.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	return conn.(*readAheadConn), peer.(*net.TCPConn)
}

func TestReadAheadConnPassesBytesThroughUnchanged(t *testing.T) {
	want := make([]byte, 3*readAheadSize+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name string
		pair func(t *testing.T) (*readAheadConn, net.Conn)
	}{
		{"pipe", func(t *testing.T) (*readAheadConn, net.Conn) {
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close() })
			return &readAheadConn{Conn: a, buf: make([]byte, readAheadSize)}, b
		}},
		// A socket is read with raw system calls on Linux.
		{"tcp", func(t *testing.T) (*readAheadConn, net.Conn) { return tcpPair(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, b := tc.pair(t)
			go func() {
				// Writes of odd sizes, so reads straddle them.
				for rest := want; len(rest) > 0; {
					n := min(len(rest), 5000)
					if _, err := b.Write(rest[:n]); err != nil {
						return
					}
					rest = rest[n:]
				}
				b.Close()
			}()
			got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(c, int64(len(want)/2))))
			if err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(c) // large reads bypass the buffer once it is empty
			if err != nil {
				t.Fatal(err)
			}
			if got = append(got, rest...); !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
			}
		})
	}
}

// gortsplib tells a camera that stalls from one that hung up by the error
// its reads return, so the connection's errors are net.Conn's own.
func TestReadAheadConnReportsErrorsAsNetConnDoes(t *testing.T) {
	buf := make([]byte, 100)
	t.Run("deadline", func(t *testing.T) {
		c, peer := tcpPair(t)
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := c.Read(buf)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past the deadline: %v, want a timeout", err)
		}
		// The connection still works once the deadline is moved.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = peer.Write([]byte("RTSP"))
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "RTSP" {
			t.Fatalf("read after the deadline: %q, %v", buf[:n], err)
		}
	})
	t.Run("peer hangs up", func(t *testing.T) {
		c, peer := tcpPair(t)
		peer.Close()
		if _, err := c.Read(buf); err != io.EOF {
			t.Fatalf("read: %v, want io.EOF", err)
		}
	})
	t.Run("peer resets", func(t *testing.T) {
		c, peer := tcpPair(t)
		_ = peer.SetLinger(0) // the close sends a reset
		peer.Close()
		_, err := c.Read(buf)
		var oe *net.OpError
		if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &oe) || oe.Op != "read" {
			t.Fatalf("read: %v, want a read error with ECONNRESET", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := tcpPair(t)
		go func() { time.Sleep(50 * time.Millisecond); c.Close() }()
		if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read: %v, want net.ErrClosed", err)
		}
	})
}

// arrivalSink records when each access unit reaches it.
type arrivalSink struct {
	mu    sync.Mutex
	times []time.Time
}

func (s *arrivalSink) WriteAccessUnit(au *AccessUnit) {
	s.mu.Lock()
	s.times = append(s.times, au.Received)
	s.mu.Unlock()
}

// since returns the arrivals after t.
func (s *arrivalSink) since(t time.Time) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Time
	for _, a := range s.times {
		if a.After(t) {
			out = append(out, a)
		}
	}
	return out
}

// bursts counts groups of arrivals separated by more than gap.
func bursts(times []time.Time, gap time.Duration) int {
	n := 0
	for i, t := range times {
		if i == 0 || t.Sub(times[i-1]) > gap {
			n++
		}
	}
	return n
}

// An unwatched camera is read in batches, which is what makes pulling it
// cheap, yet loses no frame; once watched, frames arrive one by one again.
func TestUnwatchedCameraIsReadInBatchesWithoutLosingFrames(t *testing.T) {
	tc, err := testcamera.Start(testcamera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()

	sink := &arrivalSink{}
	cam := New(Config{Name: "press-1", URL: tc.URL(), Transport: TransportTCP}, sink, nil)
	cam.SetUnwatched(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = cam.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for deadline := time.Now().Add(10 * time.Second); len(sink.since(time.Time{})) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no access unit within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	const window = 2 * time.Second
	frameGap := time.Second / testcamera.FPS / 2

	start := time.Now()
	time.Sleep(window)
	idle := sink.since(start)
	// 25 fps for 2 s of a 250 kbit/s camera, read every 100 ms: about 20
	// batches of 2-3 frames.
	if n := len(idle); n < 40 {
		t.Errorf("unwatched: %d frames in %v, want about 50: frames were lost or delayed", n, window)
	}
	if b := bursts(idle, frameGap); b > len(idle)*2/3 {
		t.Errorf("unwatched: %d frames arrived in %d separate bursts, want them batched", len(idle), b)
	}

	cam.SetUnwatched(false)
	start = time.Now()
	time.Sleep(window)
	watched := sink.since(start)
	if n := len(watched); n < 40 {
		t.Errorf("watched: %d frames in %v, want about 50", n, window)
	}
	// Unwatched, about 0.4 bursts per frame; watched, about one. The
	// thresholds leave room for a busy machine bunching a few frames.
	if b := bursts(watched, frameGap); b < len(watched)/2 {
		t.Errorf("watched: %d frames arrived in only %d bursts, want them one by one", len(watched), b)
	}
}

// An idle camera is read once about 32 KB have queued, so a fast camera
// never fills the socket buffer, and at least ten times a second.
func TestIdleWaitKeepsBatchesNearTheLowWaterMark(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64 // bytes a second
		want time.Duration
	}{
		{"rate unknown", 0, 100 * time.Millisecond},
		{"250 kbit/s", 250e3 / 8, 100 * time.Millisecond},
		{"1 Mbit/s", 1e6 / 8, 100 * time.Millisecond},
		{"4 Mbit/s", 4e6 / 8, 65 * time.Millisecond},
		{"6 Mbit/s", 6e6 / 8, 43 * time.Millisecond},
		{"16 Mbit/s", 16e6 / 8, 16 * time.Millisecond},
	} {
		got := idleWait(tc.rate)
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: read again after %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Idle cameras are read on ticks shared by all of them, so several cameras
// cost one wake-up of the daemon per tick, and never later than idleWait
// after their last read.
func TestIdleDeadlinesOfCamerasCoincide(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		rate float64
		last time.Duration // after base
		want time.Duration // after base
	}{
		{"slow camera, read at a tick", 1e6 / 8, 0, 100 * time.Millisecond},
		{"slow camera, read between ticks", 1e6 / 8, 37 * time.Millisecond, 100 * time.Millisecond},
		{"another slow camera, same tick", 250e3 / 8, 91 * time.Millisecond, 100 * time.Millisecond},
		{"4 Mbit/s, 50 ms ticks", 4e6 / 8, 37 * time.Millisecond, 50 * time.Millisecond},
		{"6 Mbit/s, 25 ms ticks", 6e6 / 8, 37 * time.Millisecond, 50 * time.Millisecond},
		{"16 Mbit/s, 12.5 ms ticks", 16e6 / 8, 37 * time.Millisecond, 37500 * time.Microsecond},
		{"faster still, no shorter than 12.5 ms", 64e6 / 8, 0, 12500 * time.Microsecond},
	} {
		got := idleDeadline(base.Add(tc.last), tc.rate).Sub(base)
		if got != tc.want {
			t.Errorf("%s: next read at +%v, want +%v", tc.name, got, tc.want)
		}
		if tc.rate < 20e6/8 && got-tc.last > idleWait(tc.rate) {
			t.Errorf("%s: next read %v after the last, more than %v", tc.name, got-tc.last, idleWait(tc.rate))
		}
	}
}
