package procs

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestPolicyLowersAfterAQuietSpellAndRaisesAtOnce(t *testing.T) {
	tests := []struct {
		name  string
		loads []float64
		want  []bool // p.one after each measurement
	}{
		{"quiet stays on one", []float64{0.01, 0.1, 0.2}, []bool{true, true, true}},
		{"busy raises at once", []float64{0.1, 0.6}, []bool{true, false}},
		{"lowers after three quiet in a row", []float64{0.9, 0.1, 0.1, 0.1}, []bool{false, false, false, true}},
		{"a busy moment restarts the count", []float64{0.9, 0.1, 0.1, 0.3, 0.1, 0.1, 0.1}, []bool{false, false, false, false, false, false, true}},
		{"between the thresholds nothing changes", []float64{0.4, 0.45, 0.9, 0.4, 0.3, 0.3, 0.3}, []bool{true, true, false, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy{raise: 0.5, lower: 0.25, lowerAfter: 3, one: true}
			for i, load := range tt.loads {
				before := p.one
				changed := p.next(load)
				if p.one != tt.want[i] {
					t.Fatalf("after load %.2f (measurement %d): one processor = %v, want %v", load, i, p.one, tt.want[i])
				}
				if changed != (before != p.one) {
					t.Fatalf("measurement %d: next reported change=%v, but one went %v → %v", i, changed, before, p.one)
				}
			}
		})
	}
}

// fakeLoad is a process whose CPU use per wall second is set by the test.
type fakeLoad struct {
	mu    sync.Mutex
	load  float64
	used  time.Duration
	since time.Time
}

func (f *fakeLoad) set(load float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	f.load = load
}

func (f *fakeLoad) advance() {
	now := time.Now()
	if !f.since.IsZero() {
		f.used += time.Duration(f.load * float64(now.Sub(f.since)))
	}
	f.since = now
}

func (f *fakeLoad) usage() (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	return f.used, nil
}

// stop ends a controller's Run and returns what it returned, failing the
// test when Run does not return within 5 s.
func stop(t *testing.T, cancel context.CancelFunc, done chan error) error {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context ending")
		return nil
	}
}

func TestControllerFollowsTheLoad(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one processor: the controller has nothing to choose")
	}
	fl := &fakeLoad{load: 0.05}
	sets := make(chan int, 16)
	c := &Controller{
		Interval:   20 * time.Millisecond,
		LowerAfter: 3,
		Usage:      fl.usage,
		Set:        func(n int) { sets <- n },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { _ = stop(t, cancel, done) }()

	expect := func(want int, why string) {
		t.Helper()
		select {
		case n := <-sets:
			if n != want {
				t.Fatalf("%s: GOMAXPROCS set to %d, want %d", why, n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: GOMAXPROCS not set to %d within 5 s", why, want)
		}
	}
	expect(1, "at start")
	fl.set(0.9)
	expect(0, "under load")
	fl.set(0.05)
	expect(1, "quiet again")
	fl.set(0.9)
	expect(0, "loaded again")
	if err := stop(t, cancel, done); err != nil {
		t.Fatal(err)
	}
	done <- nil // for the deferred wait
	select {
	case n := <-sets:
		t.Fatalf("stopping on every core set GOMAXPROCS again to %d", n)
	default:
	}
}

func TestControllerStoppedOnOneCoreRestoresTheDefault(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one processor: the controller has nothing to choose")
	}
	fl := &fakeLoad{load: 0.05}
	sets := make(chan int, 16)
	c := &Controller{Interval: 20 * time.Millisecond, Usage: fl.usage, Set: func(n int) { sets <- n }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case n := <-sets:
		if n != 1 {
			t.Fatalf("at start GOMAXPROCS set to %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GOMAXPROCS not set within 5 s of the start")
	}
	_ = stop(t, cancel, done)
	select {
	case n := <-sets:
		if n != 0 {
			t.Fatalf("on stop GOMAXPROCS set to %d, want the default (0)", n)
		}
	default:
		t.Fatal("stopped on one core without restoring the default")
	}
}

func TestProcessCPUCountsWorkDone(t *testing.T) {
	before, err := ProcessCPU()
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++
	}
	after, err := ProcessCPU()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 10*time.Millisecond {
		t.Fatalf("50 ms of busy loop (%d turns) counted as %v of CPU", x, after-before)
	}
}
