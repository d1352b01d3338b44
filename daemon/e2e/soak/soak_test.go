//go:build soak

package soak

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whepclient"
)

// soakDuration is how long TestSoakViewerChurn churns: short by default so
// the suite stays quick, EDGECAM_SOAK=10m for a real soak.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("EDGECAM_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("EDGECAM_SOAK=%q: %v", v, err)
		}
		return d
	}
	if testing.Short() {
		t.Skip("soak skipped in -short mode")
	}
	return 8 * time.Second
}

func rssKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.Atoi(strings.Fields(line)[1])
			return v
		}
	}
	return 0
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// TestSoakViewerChurn runs 4 cameras with 2 steady WebRTC viewers each while
// viewers of every transport join and leave every second, then checks that
// goroutines and heap return to where they were.
func TestSoakViewerChurn(t *testing.T) {
	d := soakDuration(t)
	var cams []config.Camera
	for i := 0; i < 4; i++ {
		c := daemontest.StartCamera(t, testcamera.Options{})
		cams = append(cams, daemontest.Camera(fmt.Sprintf("cam-%d", i), c.URL()))
	}
	dm := daemontest.Start(t, nil, cams...)
	for _, c := range cams {
		dm.WaitState(t, c.Name, "streaming", 10*time.Second)
	}
	for _, c := range cams {
		for j := 0; j < 2; j++ {
			daemontest.NextUnit(t, dm.Dial(t, c.Name), 10*time.Second)
		}
	}
	time.Sleep(time.Second)
	g0, h0, r0 := runtime.NumGoroutine(), heapMB(), rssKB(t)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	joined, failed := 0, 0
	// Each viewer's send buffers (NACK history) fill during the first tens
	// of seconds; a leak shows as growth after that, so a long soak compares
	// the end with the heap a third of the way in.
	start, hMid := time.Now(), 0.0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
		if hMid == 0 && time.Since(start) >= d/3 {
			hMid = heapMB()
		}
		name := cams[round%len(cams)].Name
		wg.Add(3)
		go func() { // a WebRTC viewer that stays 1.5 s
			defer wg.Done()
			vctx, vcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer vcancel()
			v, err := whepclient.Dial(vctx, dm.URL+"/cameras/"+name+"/whep", whepclient.Options{Interfaces: []string{"lo"}})
			mu.Lock()
			if err != nil {
				failed++
			} else {
				joined++
			}
			mu.Unlock()
			if err == nil {
				time.Sleep(1500 * time.Millisecond)
				if round%3 == 0 {
					v.Abandon() // gone without DELETE
				} else {
					v.Close()
				}
			}
		}()
		for _, path := range []string{"/mjpeg", "/ws"} {
			go func() { // a JPEG viewer that reads for a second
				defer wg.Done()
				if path == "/ws" {
					path = "/snapshot.jpg" // WebSocket churn is covered by its own tests; snapshots start decoders too
				}
				rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
				defer rcancel()
				req, _ := http.NewRequestWithContext(rctx, "GET", dm.URL+"/cameras/"+name+path, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
	}
	wg.Wait()
	if failed > 0 {
		t.Errorf("%d of %d churning WebRTC viewers could not join", failed, failed+joined)
	}

	// Everything the churn started must be gone: WebRTC sessions of
	// vanished viewers time out (ICE failed: 8 s), JPEG decoders stop
	// idle_stop after their last viewer.
	deadline := time.Now().Add(20 * time.Second)
	var g1 int
	for time.Now().Before(deadline) {
		g1 = runtime.NumGoroutine()
		if g1 <= g0+5 && dm.WebRTCSessions() == 8 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	h1, r1 := heapMB(), rssKB(t)
	t.Logf("soak %s: %d viewers joined and left; goroutines %d → %d, heap %.1f → %.1f (a third in) → %.1f MB, RSS %d → %d MB (test process, clients included)",
		d, joined, g0, g1, h0, hMid, h1, r0/1024, r1/1024)
	if g1 > g0+5 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines %d → %d after the churn\n%s", g0, g1, buf[:runtime.Stack(buf, true)])
	}
	if s := dm.WebRTCSessions(); s != 8 {
		t.Errorf("%d WebRTC sessions left, want the 8 steady ones", s)
	}
	if d >= time.Minute && h1 > hMid*1.2+4 {
		t.Errorf("heap grew from %.1f MB a third of the way in to %.1f MB", hMid, h1)
	}
	if h1 > h0*2+16 {
		t.Errorf("heap grew from %.1f to %.1f MB", h0, h1)
	}
}
