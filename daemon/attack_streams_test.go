package daemon_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// Decoders and WebSockets under attack: see attack_test.go.

// Every snapshot size or quality asked for needs its own ffmpeg: forty
// requests for forty sizes at once get a few decoders, shared by the sizes
// that round alike, and 503 with Retry-After beyond the camera's budget.
func TestAttackSnapshotSizesCannotStartAnFFmpegEach(t *testing.T) {
	t.Parallel()
	daemontest.NeedFFmpeg(t)
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, func(cfg *config.Config) { cfg.JPEG.MaxDecodersPerCamera = 3 }, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	cam := d.Running(t, "press-1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	most := 0
	stop := make(chan struct{})
	go func() { // how many decoders run at once, while the requests do
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			mu.Lock()
			most = max(most, cam.JPEG().Stats().Decoders)
			mu.Unlock()
		}
	}()
	for i := range 40 {
		wg.Go(func() {
			url := fmt.Sprintf("%s/cameras/press-1/snapshot.jpg?width=%d&quality=%d", d.URL, 100+i*31, 40+i)
			resp, err := daemontest.Client().Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable &&
				(resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "too many decoders")) {
				t.Errorf("503 %q without Retry-After or reason", body)
			}
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	t.Logf("answers %v; at most %d decoders at once", codes, most)
	if codes[http.StatusOK] == 0 || codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != 40 {
		t.Fatalf("answers %v, want 200s and 503s only", codes)
	}
	// A decoder told to stop is still counted while its ffmpeg exits.
	if most > 3+1 {
		t.Fatalf("%d decoders at once on a camera allowed 3", most)
	}
}

// A WebSocket client that announces a frame of 2^63 bytes and trickles it
// is dropped: the viewer's socket does not outlive the viewer while the
// library reads the payload away.
func TestAttackEndlessWebSocketFrameIsDropped(t *testing.T) {
	t.Parallel()
	daemontest.NeedFFmpeg(t)
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	for _, path := range []string{"/cameras/press-1/ws", "/cameras/press-1/frames?format=gray&width=160"} {
		conn := rawConn(t, d)
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: edgecam\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.Contains(status, "101") {
			t.Fatalf("%s: handshake %q, %v", path, status, err)
		}
		// A masked binary frame announcing 2^63-1 bytes, then a trickle.
		frame := []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 300 { // 30 s at most
				if _, err := conn.Write([]byte{0}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		start := time.Now()
		select {
		case <-done:
			t.Logf("%s: dropped %s after the frame began", path, time.Since(start).Round(100*time.Millisecond))
		case <-time.After(30 * time.Second):
			t.Errorf("%s: the connection still takes the trickle after 30 s", path)
		}
		if time.Since(start) > 15*time.Second {
			t.Errorf("%s: dropped only after %s", path, time.Since(start).Round(time.Second))
		}
	}
}

// A snapshot that starts a decoder counts as a new session; one a running
// decoder answers does not.
func TestAttackColdSnapshotsCountAsSessions(t *testing.T) {
	t.Parallel()
	daemontest.NeedFFmpeg(t)
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, func(cfg *config.Config) {
		cfg.HTTP.SessionsPerMinute = 2
		cfg.JPEG.IdleStop = config.Duration(time.Minute)
	}, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	var got []int
	for _, width := range []int{320, 320, 320, 640, 960} {
		code, _ := daemontest.Get(t, fmt.Sprintf("%s/cameras/press-1/snapshot.jpg?width=%d", d.URL, width))
		got = append(got, code)
	}
	want := []int{200, 200, 200, 200, 429}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("snapshots at 320, 320, 320, 640, 960 with 2 sessions a minute: %v, want %v", got, want)
	}
}
