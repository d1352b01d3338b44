package frames

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"mime/multipart"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/stream"
)

// needFFmpeg skips tests that run the real decoder on machines without it.
func needFFmpeg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		tb.Skip("ffmpeg not installed (apt-get install ffmpeg); skipping tests that run the real decoder")
	}
}

// logWriter sends a Hub's log lines to the test log.
type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// syncBuffer is a log sink a test reads while the Hub writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// feed writes access units to st at fps, looping, until ctx ends.
func feed(ctx context.Context, st *stream.Stream, aus [][][]byte, fps int) {
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	for i := 0; ; i++ {
		au := aus[i%len(aus)]
		st.WriteAccessUnit(&capture.AccessUnit{NALUs: au, PTS: int64(i) * 90000 / int64(fps), IDR: isIDR(au), Session: 1, Received: time.Now()})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func isIDR(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && n[0]&0x1F == 5 {
			return true
		}
	}
	return false
}

// startCamera returns a stream fed with the test camera's clip at 25 fps,
// already holding a GOP, as a live camera's stream would.
func startCamera(t *testing.T) *stream.Stream {
	t.Helper()
	return startFeed(t, testcamera.AccessUnits(), testcamera.FPS)
}

// startFeed returns a stream fed with aus, looped at fps until the test
// ends, once it holds a picture.
func startFeed(t *testing.T, aus [][][]byte, fps int) *stream.Stream {
	t.Helper()
	st := stream.New("test", stream.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		feed(ctx, st, aus, fps)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	for deadline := time.Now().Add(5 * time.Second); !st.HasPicture(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stream holds no picture 5 s after feeding began")
		}
	}
	return st
}

// subscribe adds a viewer of variant v, closed when the test ends.
func subscribe(t *testing.T, h *Hub, v Variant) *Viewer {
	t.Helper()
	w, err := h.Subscribe(v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// pull runs a capture of the camera at url into st until the test ends,
// retrying quickly, as the daemon does with a real camera.
func pull(t *testing.T, st *stream.Stream, url string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := capture.New(capture.Config{Name: st.Name(), URL: url, Transport: capture.TransportTCP,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, st, nil)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { stop(t, cancel, done, "the camera's Run") })
}

// stop ends a Run and waits for it, failing the test when it has not
// returned 5 s after its context ended.
func stop(t *testing.T, cancel context.CancelFunc, done <-chan error, what string) {
	t.Helper()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("%s did not return within 5 s of its context ending", what)
	}
}

// startHub runs a Hub for st until the test ends, then checks that it left
// no ffmpeg behind.
func startHub(t *testing.T, st *stream.Stream, s Settings) *Hub {
	t.Helper()
	return startHubLog(t, st, s, logWriter{t})
}

// startHubLog is startHub with the Hub's log going to out.
func startHubLog(t *testing.T, st *stream.Stream, s Settings, out io.Writer) *Hub {
	t.Helper()
	h := NewHub(st, s, slog.New(slog.NewTextHandler(out, nil)).With("camera", st.Name()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		stop(t, cancel, done, "Hub.Run")
		// This hub's processes, not all of the test's: subtests of other
		// hubs may run beside it.
		if spawned, reaped := h.spawned.Load(), h.reaped.Load(); spawned != reaped {
			t.Errorf("%d of the hub's %d ffmpeg processes still exist after Run returned", spawned-reaped, spawned)
		}
	})
	return h
}

// ffmpegChildren returns the pids of ffmpeg processes whose parent is this
// test process, from /proc.
func ffmpegChildren(t testing.TB) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended meanwhile
		}
		// pid (comm) state ppid ...; comm may contain spaces, so split after
		// its closing parenthesis.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
		if !bytes.Contains(cmdline, []byte("ffmpeg")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		pids = append(pids, pid)
	}
	return pids
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// next is Viewer.Next bounded by a timeout.
func next(t *testing.T, w *Viewer, after uint64, timeout time.Duration) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	f, err := w.Next(ctx, after)
	if err != nil {
		t.Fatalf("Next(after %d): %v", after, err)
	}
	return f
}

// checkJPEG asserts that f holds a decodable JPEG of the given size.
func checkJPEG(t *testing.T, f Frame, width, height int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(f.Data))
	if err != nil {
		t.Fatalf("frame %d is not a valid JPEG: %v", f.Seq, err)
	}
	if cfg.Width != width || cfg.Height != height {
		t.Fatalf("frame %d is %dx%d, want %dx%d", f.Seq, cfg.Width, cfg.Height, width, height)
	}
	if f.Width != width || f.Height != height {
		t.Fatalf("frame %d reports %dx%d, want %dx%d", f.Seq, f.Width, f.Height, width, height)
	}
}

func (h *Hub) ffmpegPIDs() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var pids []int
	for _, d := range h.decoders {
		if p := d.pid.Load(); p != 0 {
			pids = append(pids, int(p))
		}
	}
	return pids
}

func TestViewerGetsJPEGsOfTheRequestedSize(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	h := startHub(t, st, Settings{})
	for _, tc := range []struct {
		v             Variant
		width, height int
	}{
		{Variant{}, 640, 360},
		{Variant{Width: 320}, 320, 180},
		{Variant{Width: 1920}, 640, 360}, // never upscaled
	} {
		t.Run(fmt.Sprintf("width=%d", tc.v.Width), func(t *testing.T) {
			w := subscribe(t, h, tc.v)
			var seq uint64
			for range 3 {
				f := next(t, w, seq, 5*time.Second)
				if f.Seq <= seq {
					t.Fatalf("Seq went from %d to %d", seq, f.Seq)
				}
				seq = f.Seq
				checkJPEG(t, f, tc.width, tc.height)
			}
		})
	}
}

func TestSnapshotWithoutRunningDecoderIsQuick(t *testing.T) {
	needFFmpeg(t)
	for _, kf := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyframesOnly=%v", kf), func(t *testing.T) {
			st := startCamera(t)
			h := startHub(t, st, Settings{KeyframesOnly: kf, IdleStop: 300 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			f, err := h.Snapshot(ctx, Variant{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cold snapshot took %v (%d bytes)", time.Since(start), len(f.Data))
			checkJPEG(t, f, 640, 360)

			// The decoder lingers, so the next snapshot is immediate.
			start = time.Now()
			if _, err := h.Snapshot(ctx, Variant{}); err != nil {
				t.Fatal(err)
			}
			t.Logf("warm snapshot took %v", time.Since(start))
			if n := h.Stats().Decoders; n != 1 {
				t.Fatalf("%d decoders after a snapshot, want 1 lingering", n)
			}
			eventually(t, 3*time.Second, "decoder stopped after IdleStop", func() bool {
				return h.Stats().Decoders == 0 && len(ffmpegChildren(t)) == 0
			})
		})
	}
}

func TestFFmpegRunsOnlyWhileSomeoneWatches(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	idle := 500 * time.Millisecond
	h := startHub(t, st, Settings{IdleStop: idle})
	if n, pids := h.Stats().Decoders, ffmpegChildren(t); n != 0 || len(pids) != 0 {
		t.Fatalf("before any viewer: %d decoders, ffmpeg pids %v; want none", n, pids)
	}
	w, err := h.Subscribe(Variant{})
	if err != nil {
		t.Fatal(err)
	}
	next(t, w, 0, 5*time.Second)
	if n, pids := h.Stats().Decoders, ffmpegChildren(t); n != 1 || len(pids) != 1 {
		t.Fatalf("with a viewer: %d decoders, ffmpeg pids %v; want one", n, pids)
	}
	w.Close()
	w.Close() // idempotent
	if _, err := w.Next(context.Background(), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
	left := time.Now()
	time.Sleep(idle / 2)
	if n := h.Stats().Decoders; n != 1 {
		t.Fatalf("%d decoders before IdleStop passed, want 1 lingering", n)
	}
	eventually(t, idle+3*time.Second, "no decoder and no ffmpeg after IdleStop", func() bool {
		return h.Stats().Decoders == 0 && len(ffmpegChildren(t)) == 0
	})
	t.Logf("decoder gone %v after the last viewer left (IdleStop %v)", time.Since(left), idle)
}

func TestViewersOfOneVariantShareOneFFmpeg(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	h := startHub(t, st, Settings{})
	var ws []*Viewer
	for i := range 3 {
		// Spelling the defaults out must not start a second decoder.
		v := Variant{}
		if i == 2 {
			v = Variant{Quality: DefaultQuality}
		}
		w := subscribe(t, h, v)
		ws = append(ws, w)
	}
	for _, w := range ws {
		checkJPEG(t, next(t, w, 0, 5*time.Second), 640, 360)
	}
	if n, pids := h.Stats().Decoders, ffmpegChildren(t); n != 1 || len(pids) != 1 {
		t.Fatalf("three viewers: %d decoders, ffmpeg pids %v; want one", n, pids)
	}
}

func TestViewerGetsFramesAgainAfterFFmpegIsKilled(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	h := startHub(t, st, Settings{})
	w := subscribe(t, h, Variant{})
	f := next(t, w, 0, 5*time.Second)
	pids := h.ffmpegPIDs()
	if len(pids) != 1 {
		t.Fatalf("ffmpeg pids %v, want one", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 5*time.Second, "restart counted", func() bool { return h.Stats().Restarts == 1 })
	// Frames already decoded may still come out of the pipe; wait for one
	// from the new process.
	eventually(t, 10*time.Second, "a new ffmpeg", func() bool {
		p := h.ffmpegPIDs()
		return len(p) == 1 && p[0] != pids[0]
	})
	for seq := f.Seq; ; {
		f = next(t, w, seq, 10*time.Second)
		checkJPEG(t, f, 640, 360)
		if f.Time.After(killed.Add(minBackoff)) {
			break
		}
		seq = f.Seq
	}
	t.Logf("frames again %v after the kill", time.Since(killed))
	if pids := ffmpegChildren(t); len(pids) != 1 {
		t.Fatalf("ffmpeg pids %v after the restart, want one (the killed one must have been waited for)", pids)
	}
}

func TestViewerThatNeverReadsDoesNotStallOthers(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	h := startHub(t, st, Settings{})
	subscribe(t, h, Variant{}) // a viewer that never asks for a frame
	w := subscribe(t, h, Variant{})
	start := time.Now()
	var seq uint64
	for range 15 { // 3 s at 5 fps
		f := next(t, w, seq, 2*time.Second)
		if f.Seq <= seq {
			t.Fatalf("Seq went from %d to %d", seq, f.Seq)
		}
		seq = f.Seq
	}
	t.Logf("15 frames in %v, up to Seq %d", time.Since(start), seq)
}

// A picture comes out as soon as its access unit is in, not when the next
// one arrives: a camera that pauses (or a model's frame rate well below the
// camera's) must not leave the newest picture inside ffmpeg. Here the
// camera sends part of a GOP and stops; every format's last picture must
// be the last access unit sent.
func TestPictureComesOutWithoutWaitingForTheNextFrame(t *testing.T) {
	needFFmpeg(t)
	st := stream.New("test", stream.Options{})
	defer st.Close()
	aus := testcamera.AccessUnits()[:10]
	for i, au := range aus {
		st.WriteAccessUnit(&capture.AccessUnit{NALUs: au, PTS: int64(i) * 3600, IDR: isIDR(au), Session: 1, Received: time.Now()})
	}
	last := uint32(len(aus)-1) * 3600
	h := startHub(t, st, Settings{FPS: testcamera.FPS})
	for _, v := range []Variant{{}, {Format: FormatGray}, {Format: FormatBGR24, Width: 320}} {
		w := subscribe(t, h, v)
		var f Frame
		for deadline := time.Now().Add(10 * time.Second); f.PTS != last; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the last picture out is of pts %d, not the last one sent (%d): ffmpeg holds it back", v.Format, f.PTS, last)
			}
			f = next(t, w, f.Seq, time.Until(deadline))
		}
	}
}

func TestSlowViewerGetsNewestFrame(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	h := startHub(t, st, Settings{})
	w := subscribe(t, h, Variant{})
	f := next(t, w, 0, 5*time.Second)
	time.Sleep(time.Second) // about 5 frames are made meanwhile
	g := next(t, w, f.Seq, time.Second)
	if g.Seq < f.Seq+3 {
		t.Fatalf("after a 1 s pause got Seq %d following %d; want the newest, not the next", g.Seq, f.Seq)
	}
}

func TestKeyframesOnlyGivesOnePicturePerGOPAtOnce(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	h := startHub(t, st, Settings{KeyframesOnly: true})
	start := time.Now()
	w := subscribe(t, h, Variant{})
	f := next(t, w, 0, 5*time.Second)
	// At once means from the cached GOP's keyframe, which arrived before
	// the viewer did, not from the camera's next one.
	if !f.Source || !f.Keyframe || !f.Received.Before(start) {
		t.Fatalf("first picture: traced %v, keyframe %v, received %v after the viewer came; want the cached keyframe",
			f.Source, f.Keyframe, f.Received.Sub(start))
	}
	checkJPEG(t, f, 640, 360)

	// Count pictures over 4 GOPs: one each, every IDR decoded once.
	gop := time.Duration(testcamera.GOP) * time.Second / testcamera.FPS
	counted := time.Now()
	seq, n := f.Seq, 0
	for time.Since(counted) < 4*gop {
		ctx, cancel := context.WithDeadline(context.Background(), counted.Add(4*gop))
		g, err := w.Next(ctx, seq)
		cancel()
		if err != nil {
			break
		}
		checkJPEG(t, g, 640, 360)
		seq = g.Seq
		n++
	}
	t.Logf("%d pictures in %v", n, 4*gop)
	if n < 3 || n > 5 {
		t.Fatalf("%d pictures in 4 GOPs, want about 4", n)
	}
	// ffmpeg once stopped at the fourth IDR over a repeated timestamp;
	// the restart hid it from the count above.
	if r := h.Stats().Restarts; r != 0 {
		t.Fatalf("ffmpeg was restarted %d times while fed keyframes", r)
	}
}

func TestMissingFFmpegIsReportedAtSubscribe(t *testing.T) {
	st := stream.New("test", stream.Options{})
	defer st.Close()
	h := startHub(t, st, Settings{FFmpeg: "/nonexistent/ffmpeg"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := h.Subscribe(Variant{})
	if !errors.Is(err, ErrNoFFmpeg) || !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Subscribe: %v, want an error wrapping ErrNoFFmpeg and exec.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Errorf("error %q does not say how to install ffmpeg", err)
	}
	if _, err := h.Snapshot(ctx, Variant{}); !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("Snapshot: %v, want ErrNoFFmpeg", err)
	}
	if n := h.Stats().Decoders; n != 0 {
		t.Fatalf("%d decoders, want 0", n)
	}
}

func TestRunEndsViewersAndLeavesNothingBehind(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	before := runtime.NumGoroutine()
	h := NewHub(st, Settings{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	w := subscribe(t, h, Variant{Width: 320})
	f := next(t, w, 0, 5*time.Second)

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s")
	}
	if pids := ffmpegChildren(t); len(pids) != 0 {
		t.Fatalf("ffmpeg pids %v after Run returned", pids)
	}
	// Pictures ffmpeg flushed while stopping may still be handed out, but
	// then Next must end.
	for range 10 {
		g, err := w.Next(context.Background(), f.Seq)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil || g.Seq <= f.Seq {
			t.Fatalf("Next after Run returned: %v, Seq %d after %d; want ErrClosed", err, g.Seq, f.Seq)
		}
		f = g
	}
	if _, err := w.Next(context.Background(), f.Seq); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Run returned: %v, want ErrClosed", err)
	}
	if _, err := h.Subscribe(Variant{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Run returned: %v, want ErrClosed", err)
	}
	eventually(t, 2*time.Second, "goroutines back to where they were", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func TestDecoderEndsWhenStreamCloses(t *testing.T) {
	needFFmpeg(t)
	st := startCamera(t)
	h := startHub(t, st, Settings{})
	w := subscribe(t, h, Variant{})
	f := next(t, w, 0, 5*time.Second)
	st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		g, err := w.Next(ctx, f.Seq)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatalf("Next after the stream closed: %v, want ErrClosed", err)
		}
		f = g
	}
	eventually(t, 3*time.Second, "decoder gone", func() bool { return h.Stats().Decoders == 0 })
}

func TestFFmpegArguments(t *testing.T) {
	st := stream.New("test", stream.Options{})
	defer st.Close()
	for _, tc := range []struct {
		s    Settings
		v    Variant
		want string
	}{
		{Settings{}, Variant{}, "-framerate 25 -nofind_stream_info -i pipe:0 -map 0:v -fps_mode vfr -enc_time_base 1/1000 -vf select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.1800)',format=yuvj420p,showinfo=checksum=0 -c:v mjpeg -threads 1 -q:v 9 "},
		{Settings{Width: 641, Quality: 100, InputFPS: 12.5}, Variant{}, "-framerate 25/2 -nofind_stream_info -i pipe:0 -map 0:v -fps_mode vfr -enc_time_base 1/1000 -vf select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.1600)',scale='min(640,iw)':-2,format=yuvj420p,showinfo=checksum=0 -c:v mjpeg -threads 1 -q:v 2 "},
		{Settings{FPS: 30, InputFPS: 25}, Variant{}, "gte(t-prev_selected_t\\,0.0133)"},
		{Settings{KeyframesOnly: true, HWAccel: "v4l2m2m"}, Variant{Width: 320, Quality: 1}, "-c:v h264_v4l2m2m -i pipe:0 -map 0:v -fps_mode vfr -enc_time_base 1/1000 -vf scale='min(320,iw)':-2,format=yuvj420p,showinfo=checksum=0 -c:v mjpeg -threads 1 -q:v 31 "},
		{Settings{KeyframesOnly: true}, Variant{}, "-nofind_stream_info -i pipe:0 -map 0:v -fps_mode vfr -enc_time_base 1/1000 -vf format=yuvj420p,showinfo=checksum=0 "},
		{Settings{}, Variant{KeyframesOnly: true}, "-vf format=yuvj420p,showinfo=checksum=0 "},
		{Settings{}, Variant{Format: FormatBGR24, Width: 320}, "-vf select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.1800)',scale=320:180:out_range=full,format=bgr24,showinfo=checksum=0 -c:v rawvideo -threads 1 -pix_fmt bgr24 -flush_packets 1 -f rawvideo pipe:1"},
		{Settings{}, Variant{Format: FormatGray, Width: 2000}, "scale=640:360:out_range=full,format=gray,"},
	} {
		h := NewHub(st, tc.s, nil)
		d := newDecoder(h, h.normalize(tc.v))
		args := strings.Join(d.args(tc.s.HWAccel != "", d.outputSize([2]int{640, 360}), input{rate: rateOf(d.h.s.InputFPS)}), " ")
		if !strings.Contains(args, tc.want) {
			t.Errorf("%+v %+v: args %q, want them to contain %q", tc.s, tc.v, args, tc.want)
		}
		if strings.Contains(args, "nobuffer") {
			t.Errorf("args %q use -fflags nobuffer, which delays the first picture by a GOP", args)
		}
		h.stopAll()
	}
}

func TestStderrRingKeepsLastLines(t *testing.T) {
	r := &ringWriter{max: 3}
	for i := range 5 {
		fmt.Fprintf(r, "line %d\n", i)
	}
	r.Write([]byte("partial"))
	if got, want := r.String(), "line 2\nline 3\nline 4\npartial"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// splitAccessUnits splits an Annex-B H.264 stream without B-frames into
// access units of NALUs without start codes.
func splitAccessUnits(b []byte) [][][]byte {
	var nalus [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			break
		}
		b = b[i+3:]
		j := bytes.Index(b, []byte{0, 0, 1})
		if j < 0 {
			j = len(b)
		}
		nalus = append(nalus, bytes.TrimRight(b[:j], "\x00"))
		b = b[j:]
	}
	var aus [][][]byte
	var cur [][]byte
	hasVCL := false
	for _, n := range nalus {
		typ := n[0] & 0x1F
		vcl := typ == 1 || typ == 5
		// A non-VCL NALU after a picture, or a slice starting at
		// macroblock 0, begins a new access unit.
		if hasVCL && (!vcl || n[1]&0x80 != 0) {
			aus = append(aus, cur)
			cur, hasVCL = nil, false
		}
		cur = append(cur, n)
		hasVCL = hasVCL || vcl
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

// x264Clip makes a testsrc2 clip with libx264 (no B-frames, plus args) and
// returns its access units, skipping the test where ffmpeg cannot.
func x264Clip(tb testing.TB, size string, fps, seconds int, args ...string) [][][]byte {
	tb.Helper()
	clip := filepath.Join(tb.TempDir(), "clip.h264")
	cmd := append([]string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", size, fps), "-t", strconv.Itoa(seconds),
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0"}, args...)
	out, err := exec.Command("ffmpeg", append(cmd, "-f", "h264", clip)...).CombinedOutput()
	if err != nil {
		tb.Skipf("cannot make an x264 clip (%v): %s", err, out)
	}
	raw, err := os.ReadFile(clip)
	if err != nil {
		tb.Fatal(err)
	}
	aus := splitAccessUnits(raw)
	if len(aus) != fps*seconds {
		tb.Fatalf("clip has %d access units, want %d", len(aus), fps*seconds)
	}
	return aus
}

// BenchmarkDecoderCPU reports the CPU ffmpeg spends per minute of real-time
// 1080p30 input (GOP 60, no B-frames, 4 Mbit/s), for each decoding mode.
func BenchmarkDecoderCPU(b *testing.B) {
	needFFmpeg(b)
	const fps, seconds = 30, 10
	aus := x264Clip(b, "1920x1080", fps, seconds,
		"-b:v", "4M", "-maxrate", "4M", "-bufsize", "4M",
		"-x264-params", "keyint=60:min-keyint=60:scenecut=0:repeat-headers=1")

	for _, mode := range []struct {
		name    string
		s       Settings
		viewers int
	}{
		{"full-5fps-1080p/1viewer", Settings{FPS: 5, Quality: 75, InputFPS: fps}, 1},
		{"full-5fps-1080p/5viewers", Settings{FPS: 5, Quality: 75, InputFPS: fps}, 5},
		{"full-5fps-640w/1viewer", Settings{FPS: 5, Width: 640, Quality: 75, InputFPS: fps}, 1},
		{"keyframes-only-1080p/1viewer", Settings{KeyframesOnly: true, Quality: 75, InputFPS: fps}, 1},
		{"keyframes-only-1080p/5viewers", Settings{KeyframesOnly: true, Quality: 75, InputFPS: fps}, 5},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var cpu, goCPU, input time.Duration
			var frames uint64
			for range b.N {
				c, g, in, n := runDecoderOnce(b, aus, fps, mode.s, mode.viewers)
				cpu += c
				goCPU += g
				input += in
				frames += n
			}
			// ffmpeg's CPU, and this process's (feeding ffmpeg, parsing its
			// output and handing pictures to the viewers).
			b.ReportMetric(cpu.Seconds()/input.Minutes(), "ffmpeg-cpu-s/min")
			b.ReportMetric(goCPU.Seconds()/input.Minutes(), "go-cpu-s/min")
			b.ReportMetric(float64(frames)/input.Seconds(), "jpeg/s")
		})
	}
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runDecoderOnce feeds aus in real time to one decoder with a reading viewer
// and returns ffmpeg's user+system CPU time, the input duration and the
// number of pictures.
func runDecoderOnce(b *testing.B, aus [][][]byte, fps int, s Settings, viewers int) (cpu, goCPU, input time.Duration, frames uint64) {
	st := stream.New("bench", stream.Options{})
	defer st.Close()
	h := NewHub(st, s, nil)
	var mu sync.Mutex
	h.exited = func(ps *os.ProcessState) {
		mu.Lock()
		cpu += ps.UserTime() + ps.SystemTime()
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var ws []*Viewer
	var readers sync.WaitGroup
	for range viewers {
		w, err := h.Subscribe(Variant{})
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
		readers.Add(1)
		go func() {
			defer readers.Done()
			// Frame each picture as an MJPEG part, as the HTTP handler does.
			mw := multipart.NewWriter(io.Discard)
			hdr := textproto.MIMEHeader{"Content-Type": {"image/jpeg"}}
			var seq uint64
			for {
				f, err := w.Next(ctx, seq)
				if err != nil {
					return
				}
				seq = f.Seq
				if pw, err := mw.CreatePart(hdr); err == nil {
					_, _ = pw.Write(f.Data)
				}
			}
		}()
	}
	// Let ffmpeg start before the clip begins, as a viewer of a running
	// camera would.
	time.Sleep(200 * time.Millisecond)
	b.ResetTimer()
	ctxFeed, stopFeed := context.WithTimeout(ctx, time.Duration(len(aus))*time.Second/time.Duration(fps))
	start, startCPU := time.Now(), processCPU()
	feed(ctxFeed, st, aus, fps)
	input = time.Since(start)
	goCPU = processCPU() - startCPU
	stopFeed()
	time.Sleep(200 * time.Millisecond) // let the last pictures out
	b.StopTimer()
	frames = h.Stats().Frames
	if r := h.Stats().Restarts; r != 0 {
		b.Errorf("%d ffmpeg restarts during the benchmark", r)
	}
	cancel()
	<-done
	for _, w := range ws {
		w.Close()
	}
	readers.Wait()
	mu.Lock()
	defer mu.Unlock()
	return cpu, goCPU, input, frames
}

// An ffmpeg older than 5.1 rejects -fps_mode; the Hub notices, switches to
// options every version knows and the viewer gets its picture without a
// restart backoff.
func TestOlderFFmpegGetsOptionsItKnows(t *testing.T) {
	needFFmpeg(t)
	real, _ := exec.LookPath("ffmpeg")
	old := filepath.Join(t.TempDir(), "ffmpeg")
	script := `#!/bin/sh
for a in "$@"; do
	case "$a" in
	-fps_mode|-nofind_stream_info|-enc_time_base) echo "Unrecognized option '${a#-}'." >&2; echo "Error splitting the argument list: Option not found" >&2; exit 1;;
	esac
done
exec ` + real + ` "$@"
`
	if err := os.WriteFile(old, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	st := startCamera(t)
	var log syncBuffer
	h := startHubLog(t, st, Settings{FFmpeg: old}, io.MultiWriter(logWriter{t}, &log))
	w := subscribe(t, h, Variant{})
	f := next(t, w, 0, 5*time.Second)
	checkJPEG(t, f, 640, 360)
	if !h.oldFFmpeg.Load() {
		t.Error("the Hub did not switch to the older options")
	}
	if strings.Contains(log.String(), "ffmpeg stopped; restarting") {
		t.Error("the retry with older options waited for the restart backoff")
	}
	// The older options still give pictures at the configured rate: 200 ms
	// of the camera's timeline apart, one camera frame either way.
	g := next(t, w, f.Seq, 2*time.Second)
	h2 := next(t, w, g.Seq, 2*time.Second)
	if !g.Source || !h2.Source {
		t.Fatal("pictures not traced to their access units")
	}
	per := time.Duration(h2.PTS-g.PTS) * time.Second / 90000 / time.Duration(h2.Seq-g.Seq)
	frame := time.Second / testcamera.FPS
	if per < 200*time.Millisecond-frame || per > 200*time.Millisecond+frame {
		t.Errorf("pictures %v of video apart, want 200 ms (5 fps)", per)
	}
}

// A board without a working hardware decoder (here: no V4L2 M2M device at
// all) falls back to software decoding once and stays there.
func TestFailingHardwareDecoderFallsBackToSoftware(t *testing.T) {
	needFFmpeg(t)
	if _, err := os.Stat("/dev/video10"); err == nil {
		t.Skip("this machine has a V4L2 M2M decoder; the fallback cannot be provoked")
	}
	st := startCamera(t)
	h := startHub(t, st, Settings{HWAccel: "v4l2m2m"})
	w := subscribe(t, h, Variant{})
	checkJPEG(t, next(t, w, 0, 5*time.Second), 640, 360)
	if !h.hwFailed.Load() {
		t.Error("pictures came, but the Hub did not record the hardware decoder as failed")
	}
}

// A 30 fps x264 stream fed keyframes only, unprobed, once gave the fourth
// IDR's picture the third one's timestamp at the encoder, and -fps_mode
// passthrough then stopped ffmpeg; every IDR must give a picture with no
// restart.
func TestKeyframesOnlyPicturesEveryIDRWithoutRestart(t *testing.T) {
	needFFmpeg(t)
	const fps, seconds = 30, 6
	aus := x264Clip(t, "320x180", fps, seconds, "-profile:v", "high",
		"-g", strconv.Itoa(fps), "-keyint_min", strconv.Itoa(fps), "-sc_threshold", "0")
	st := startFeed(t, aus, fps)
	h := startHub(t, st, Settings{KeyframesOnly: true, InputFPS: fps})
	w := subscribe(t, h, Variant{})
	// The cached IDR's picture, then one a second; a dropped one shows
	// as a two-second gap.
	f := next(t, w, 0, 5*time.Second)
	n, worst := 1, time.Duration(0)
	for deadline := time.Now().Add(seconds * time.Second); time.Now().Before(deadline); n++ {
		g := next(t, w, f.Seq, 3*time.Second)
		if n > 1 { // the first gap runs from the cached IDR to a live one
			worst = max(worst, g.Time.Sub(f.Time))
		}
		f = g
	}
	if r := h.Stats().Restarts; r != 0 {
		t.Fatalf("ffmpeg was restarted %d times in %d keyframe pictures", r, n)
	}
	if worst > 1500*time.Millisecond {
		t.Fatalf("%d pictures, up to %v apart, for one IDR a second: ffmpeg dropped some", n, worst)
	}
}

// A camera that changes resolution (a new SPS at an IDR) keeps its JPEG
// viewers: pictures come at the new size from the same ffmpeg, in both
// modes.
func TestResolutionChangeKeepsPicturesComing(t *testing.T) {
	needFFmpeg(t)
	const fps, seconds = 30, 2
	gop := []string{"-g", strconv.Itoa(fps), "-keyint_min", strconv.Itoa(fps), "-sc_threshold", "0"}
	big := x264Clip(t, "320x180", fps, seconds, gop...)
	small := x264Clip(t, "192x108", fps, seconds, gop...)
	for _, kf := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyframes_only=%v", kf), func(t *testing.T) {
			st := startFeed(t, append(slices.Clone(big), small...), fps)
			h := startHub(t, st, Settings{KeyframesOnly: kf, InputFPS: fps})
			w := subscribe(t, h, Variant{})
			seen := map[[2]int]bool{}
			var seq uint64
			for deadline := time.Now().Add(3 * seconds * time.Second); len(seen) < 2 && time.Now().Before(deadline); {
				f := next(t, w, seq, 3*time.Second)
				seq = f.Seq
				seen[[2]int{f.Width, f.Height}] = true
			}
			if !seen[[2]int{320, 180}] || !seen[[2]int{192, 108}] {
				t.Fatalf("picture sizes %v, want both 320x180 and 192x108", seen)
			}
			if r := h.Stats().Restarts; r != 0 {
				t.Fatalf("ffmpeg was restarted %d times across the resolution change", r)
			}
		})
	}
}

// The rate ffmpeg is told is the one its H.264 parser times the input by:
// the SPS's when it has timing ffmpeg accepts, else the assumed one.
func TestInputRateFollowsTheSPS(t *testing.T) {
	timing := func(units, scale uint32) h264.SPS {
		return h264.SPS{VUI: &h264.SPS_VUI{TimingInfo: &h264.SPS_TimingInfo{NumUnitsInTick: units, TimeScale: scale}}}
	}
	for _, tc := range []struct {
		name string
		sps  h264.SPS
		want string
	}{
		{"x264 at 30 fps", timing(1, 60), "30"},
		{"NTSC", timing(1001, 60000), "30000/1001"},
		{"a camera's 90 kHz clock at 25 fps", timing(1800, 90000), "25"},
		{"no VUI", h264.SPS{}, "25"},
		{"no timing", h264.SPS{VUI: &h264.SPS_VUI{}}, "25"},
		{"zero units", timing(0, 60), "25"},
		{"zero scale", timing(1, 0), "25"},
		{"1000 fps or more, ignored by ffmpeg", timing(1, 2000), "25"},
	} {
		if got := spsRate(tc.sps, 25).String(); got != tc.want {
			t.Errorf("%s: rate %s, want %s", tc.name, got, tc.want)
		}
	}
}
