// Package procs runs edgecam's Go code on one processor while its load fits
// there with room to spare, and on all of them once it does not.
//
// Why: relaying video is a stream of short jobs, each started by a packet
// or a frame arriving. With more than one processor (GOMAXPROCS), the Go
// scheduler wakes a second thread to look for work every time the netpoller
// readies a goroutine, and that thread finds none and sleeps again: one
// futex and two context switches per frame and camera for nothing. With one
// processor there is no one to wake. A busy daemon (many viewers, DTLS
// handshakes) needs the other cores, though, so the Controller watches the
// process's CPU time and moves between the two.
//
// Its gain: edgecam-bench against the same binary run with GOMAXPROCS=2
// (docs/performance.md). It could go if the scheduler stopped waking an
// idle thread for every goroutine the netpoller readies.
package procs

import (
	"context"
	"log/slog"
	"runtime"
	"syscall"
	"time"
)

// Defaults of the Controller's thresholds.
const (
	// DefaultInterval is how often the load is measured.
	DefaultInterval = time.Second
	// DefaultRaise is the load, as a fraction of one core, above which one
	// processor is no longer enough: at half a core, work arriving at
	// random already waits for other work about as long as it runs.
	DefaultRaise = 0.5
	// DefaultLower is the load below which one processor is enough again.
	// The same work costs more with all processors (the wake-ups this
	// package avoids), so it is well below DefaultRaise: the load drops
	// when the controller lowers and must not then look like a reason to
	// raise.
	DefaultLower = 0.25
	// DefaultLowerAfter is how many measurements in a row must be below
	// DefaultLower before the controller lowers, so a short lull between
	// bursts (viewers coming and going) does not flip it back and forth.
	DefaultLowerAfter = 5
)

// Controller sets GOMAXPROCS from the process's load. The zero value uses
// the defaults above and the real runtime; tests replace Usage and Set.
type Controller struct {
	// Interval, Raise, Lower and LowerAfter: see the defaults.
	Interval   time.Duration
	Raise      float64
	Lower      float64
	LowerAfter int
	// Usage returns the CPU time the process has used so far (user and
	// system, all threads, not its children: ffmpeg runs on its own).
	Usage func() (time.Duration, error)
	// Set applies n processors; 0 means the runtime's default (all the
	// cores the process may use, following its cgroup's CPU limit).
	Set func(n int)
	// Log receives one line per change; nil means slog.Default().
	Log *slog.Logger
}

// Run lowers GOMAXPROCS to 1 at once, then raises it back to the runtime's
// default whenever a measurement finds the load above Raise, and lowers it
// again after LowerAfter measurements in a row below Lower. When ctx ends
// it leaves the runtime's default in place and returns nil. When the
// default is already one processor (one core, or a CPU quota of one), or
// usage cannot be read, it does nothing.
func (c *Controller) Run(ctx context.Context) error {
	c.defaults()
	cores := runtime.GOMAXPROCS(0)
	if cores < 2 {
		return nil
	}
	last, err := c.Usage()
	if err != nil {
		c.Log.Warn("cpu usage unreadable: Go code runs on every core", "error", err)
		return nil
	}
	p := policy{raise: c.Raise, lower: c.Lower, lowerAfter: c.LowerAfter, one: true}
	c.Set(1)
	c.Log.Info("go scheduler on one core until the load needs more", "cores", cores)
	defer func() {
		if p.one {
			c.Set(0)
		}
	}()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			used, err := c.Usage()
			if err != nil {
				continue
			}
			// Now, not the tick's time: on one busy processor this
			// goroutine may run late, and the CPU time read counts until
			// now.
			now := time.Now()
			load := float64(used-last) / float64(now.Sub(lastAt))
			last, lastAt = used, now
			if p.next(load) {
				if p.one {
					c.Set(1)
					c.Log.Info("go scheduler on one core: the load fits", "load_cores", round2(load))
				} else {
					c.Set(0)
					c.Log.Info("go scheduler on every core: the load needs them", "load_cores", round2(load), "gomaxprocs", runtime.GOMAXPROCS(0))
				}
			}
		}
	}
}

func (c *Controller) defaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Raise <= 0 {
		c.Raise = DefaultRaise
	}
	if c.Lower <= 0 {
		c.Lower = DefaultLower
	}
	if c.LowerAfter <= 0 {
		c.LowerAfter = DefaultLowerAfter
	}
	if c.Usage == nil {
		c.Usage = ProcessCPU
	}
	if c.Set == nil {
		c.Set = setProcs
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// policy decides from one load measurement at a time.
type policy struct {
	raise, lower float64
	lowerAfter   int
	one          bool // running on one processor
	low          int  // measurements in a row below lower
}

// next takes a load measurement (in cores) and reports whether the number
// of processors changes; p.one says to what.
func (p *policy) next(load float64) bool {
	if load >= p.lower {
		p.low = 0
	} else if p.low < p.lowerAfter {
		p.low++
	}
	switch {
	case p.one && load > p.raise:
		p.one, p.low = false, 0
		return true
	case !p.one && p.low >= p.lowerAfter:
		p.one = true
		return true
	}
	return false
}

// ProcessCPU returns the CPU time this process has used, its children
// excluded.
func ProcessCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func setProcs(n int) {
	if n <= 0 {
		runtime.SetDefaultGOMAXPROCS()
		return
	}
	runtime.GOMAXPROCS(n)
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
