package frames

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/stream"
)

const (
	// stallTimeout is how long ffmpeg may sit on fed input without
	// producing a picture before it is considered hung and restarted.
	stallTimeout = 10 * time.Second
	// stopGrace is how long ffmpeg gets to exit after its stdin is closed
	// before it is killed.
	stopGrace = time.Second
	// Restart backoff. A run that lasted longer than maxBackoff resets it,
	// so a decoder that fails once a day restarts quickly, while one that
	// crashes at once does not spin.
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
	// stderrLines is how much of ffmpeg's stderr is kept for the log.
	stderrLines = 20
)

// errStalled is the reason for killing an ffmpeg that stopped producing.
var errStalled = fmt.Errorf("no picture for %v while being fed", stallTimeout)

// errNewSize ends an ffmpeg whose camera changed its picture size: ffmpeg
// would go on scaling every picture to the first size, stretching them if
// the aspect ratio changed too.
var errNewSize = errors.New("the camera changed its picture size")

// annexBStart is the 4-byte start code written before every NALU.
var annexBStart = []byte{0, 0, 0, 1}

// aud is an access unit delimiter NALU (type 9, primary_pic_type 7 = any).
var aud = []byte{0x09, 0xF0}

// aud265 is an H.265 access unit delimiter (type 35, pic_type 2 = any).
var aud265 = []byte{35 << 1, 0x01, 0x50}

// decoder is one Variant's ffmpeg, restarted as needed, and its latest
// picture.
type decoder struct {
	h      *Hub
	v      Variant
	ctx    context.Context
	cancel context.CancelFunc
	pid    atomic.Int64 // of the running ffmpeg, 0 if none; for tests
	// rate is the camera's frame rate as ffmpeg counts it (float64
	// bits), 0 before the first run.
	rate atomic.Uint64

	// Guarded by h.mu.
	viewers int
	idle    *time.Timer

	mu     sync.Mutex
	latest Frame
	notify chan struct{} // closed and replaced at every picture and at the end
	ended  bool
}

func newDecoder(h *Hub, v Variant) *decoder {
	ctx, cancel := context.WithCancel(h.base)
	return &decoder{h: h, v: v, ctx: ctx, cancel: cancel, notify: make(chan struct{})}
}

// stopIdleTimer is called with h.mu held.
func (d *decoder) stopIdleTimer() {
	if d.idle != nil {
		d.idle.Stop()
		d.idle = nil
	}
}

// run supervises ffmpeg until the decoder is stopped.
func (d *decoder) run() {
	h := d.h
	defer func() {
		d.cancel()
		h.forget(d)
		d.mu.Lock()
		d.ended = true
		close(d.notify)
		d.mu.Unlock()
		h.running.Add(-1)
		h.wg.Done()
	}()
	log := h.log.With("width", d.v.Width, "quality", d.v.Quality)
	backoff := minBackoff
	for {
		hw := h.s.HWAccel != HWNone && !h.hwFailed.Load()
		start := time.Now()
		frames, tail, err := d.runOnce(hw)
		if d.ctx.Err() != nil {
			return
		}
		if errors.Is(err, stream.ErrClosed) {
			log.Info("jpeg decoder stopped: camera stream closed")
			return
		}
		if errors.Is(err, errNewSize) {
			log.Info("restarting ffmpeg for the camera's new codec, picture size or rate")
			continue
		}
		h.restarts.Add(1)
		if hw && frames == 0 {
			// A board without a working M2M decoder fails the same way
			// every time, so say it once per Hub and stay in software.
			if h.hwFailed.CompareAndSwap(false, true) {
				log.Warn("ffmpeg hardware decoding failed; falling back to software decoding",
					"hwaccel", h.s.HWAccel, "err", err, "stderr", tail)
			}
			continue
		}
		if !h.oldFFmpeg.Load() && frames == 0 && rejectedOption(tail) {
			if h.oldFFmpeg.CompareAndSwap(false, true) {
				log.Info("ffmpeg is older than 5.1; using the options it knows", "stderr", tail)
			}
			continue
		}
		if time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		log.Warn("ffmpeg stopped; restarting", "err", err, "in", backoff, "frames", frames, "stderr", tail)
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// runOnce runs one ffmpeg process fed by a fresh stream reader, until it
// exits, stalls, the stream closes or the decoder is stopped. It returns the
// number of pictures it produced and the tail of ffmpeg's stderr.
func (d *decoder) runOnce(hw bool) (frames uint64, stderrTail string, err error) {
	sub, err := d.h.st.SubscribeDecoder()
	if err != nil {
		return 0, "", fmt.Errorf("subscribe to stream: %w", err)
	}
	defer sub.Close()
	// A reader starts at an IDR, whose SPS gives the picture size that
	// raw output must be scaled to before ffmpeg starts.
	var first stream.Item
	select {
	case it, ok := <-sub.C():
		if !ok {
			return 0, "", stream.ErrClosed
		}
		first = it
	case <-d.ctx.Done():
		return 0, "", d.ctx.Err()
	}
	in := inputOf(first.Unit.Codec, first.Unit.AppendAnnexB(nil), d.h.s.InputFPS)
	out := d.outputSize(in.size)
	if d.v.Format.Raw() && out[0] == 0 {
		return 0, "", errors.New("the camera's first IDR has no picture size")
	}
	d.rate.Store(math.Float64bits(in.rate.fps()))
	pics := newPictureLog(in.rate)
	p, err := d.startFFmpeg(hw, out, in, pics)
	if err != nil {
		return 0, "", err
	}
	defer d.pid.Store(0)
	frames, err = d.supervise(p, sub, first, in, out, pics)
	return frames, p.stderr.String(), err
}

// ffmpegRun is one running ffmpeg: its process, our ends of its pipes and
// its stderr.
type ffmpegRun struct {
	cmd    *exec.Cmd
	in     *os.File // its stdin
	out    *os.File // its stdout
	stderr *ringWriter
	exited chan error
}

// startFFmpeg starts ffmpeg for pictures of size out (0×0: the camera's).
func (d *decoder) startFFmpeg(hw bool, out [2]int, in input, pics *pictureLog) (*ffmpegRun, error) {
	// Our own pipes rather than StdinPipe/StdoutPipe: Wait can then run
	// concurrently with the reading and writing goroutines, and closing
	// our ends interrupts them.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p := &ffmpegRun{in: inW, out: outR, exited: make(chan error, 1),
		stderr: &ringWriter{max: stderrLines, skip: func(line []byte) bool { return pics.line(line) || infoLine(line) }}}
	p.cmd = exec.Command(d.h.s.FFmpeg, d.args(hw, out, in)...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	setProcAttr(p.cmd)
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start %s: %w", d.h.s.FFmpeg, err)
	}
	d.pid.Store(int64(p.cmd.Process.Pid))
	d.h.spawned.Add(1)
	go func() {
		err := p.cmd.Wait() // returns once stderr is copied to its end
		d.h.reaped.Add(1)
		pics.end()
		p.exited <- err
	}()
	return p, nil
}

// infoLine reports whether a line of ffmpeg's stderr is informational
// (-loglevel level+info marks each line), not worth keeping for the log.
func infoLine(line []byte) bool { return bytes.Contains(line, []byte("[info]")) }

// supervise feeds ffmpeg and reads its pictures until it exits, stalls,
// the stream closes, the picture size changes or the decoder is stopped;
// then it makes sure ffmpeg is gone.
func (d *decoder) supervise(p *ffmpegRun, sub *stream.Reader, first stream.Item, in input, out [2]int, pics *pictureLog) (uint64, error) {
	var (
		wg          sync.WaitGroup
		pendingFrom atomic.Int64 // unix ns of the first unit fed since the last picture, 0 if none
		produced    atomic.Uint64
		streamEnd   = make(chan struct{})
		newSize     = make(chan struct{})
		err         error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		switch d.feed(sub, first, in, p.in, pics, &pendingFrom) {
		case feedQueueClosed:
			close(streamEnd)
		case feedNewFormat:
			close(newSize)
		}
	}()
	go func() {
		defer wg.Done()
		d.read(p.out, out, pics, &pendingFrom, &produced)
	}()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	exitErr, waited := error(nil), false
loop:
	for {
		select {
		case <-d.ctx.Done():
			break loop
		case <-streamEnd:
			err = stream.ErrClosed
			break loop
		case <-newSize:
			err = errNewSize
			break loop
		case exitErr = <-p.exited:
			waited = true
			if exitErr == nil {
				exitErr = errors.New("exit status 0")
			}
			err = fmt.Errorf("ffmpeg exited: %w", exitErr)
			break loop
		case <-tick.C:
			if pf := pendingFrom.Load(); pf != 0 && time.Since(time.Unix(0, pf)) > stallTimeout {
				err = errStalled
				p.cmd.Process.Kill()
				break loop
			}
		}
	}
	// Closing stdin asks ffmpeg to flush and exit; one that does not is
	// killed. Either way it is waited for, so no zombie is left.
	p.in.Close()
	if !waited {
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if d.h.exited != nil {
		d.h.exited(p.cmd.ProcessState)
	}
	sub.Close()
	p.out.Close()
	wg.Wait()
	return produced.Load(), err
}

// outputSize is the size raw pictures are scaled to, for a camera picture
// of size in: the variant's width (never more than the camera's), an even
// number of pixels, and the height that keeps the aspect ratio, even too.
// It is 0×0 for JPEG, whose size ffmpeg chooses, or when in is unknown.
func (d *decoder) outputSize(in [2]int) [2]int {
	if !d.v.Format.Raw() || in[0] <= 0 || in[1] <= 0 {
		return [2]int{}
	}
	w := in[0]
	if d.v.Width > 0 {
		w = min(w, d.v.Width)
	}
	w &^= 1
	h := int(float64(in[1])*float64(w)/float64(in[0])/2+0.5) * 2
	return [2]int{w, max(h, 2)}
}

// ringWriter keeps the last max lines written to it, for logging ffmpeg's
// stderr when it fails without keeping everything it ever said. A line
// for which skip reports true is not kept.
type ringWriter struct {
	max   int
	skip  func(line []byte) bool
	mu    sync.Mutex
	lines []string
	part  []byte
}

// maxLineLen cuts off absurdly long stderr lines.
const maxLineLen = 512

func (r *ringWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if room := maxLineLen - len(r.part); room > 0 {
				r.part = append(r.part, p[:min(room, len(p))]...)
			}
			break
		}
		if room := maxLineLen - len(r.part); room > 0 {
			r.part = append(r.part, p[:min(room, i)]...)
		}
		if r.skip == nil || !r.skip(r.part) {
			r.push(string(r.part))
		}
		r.part = r.part[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (r *ringWriter) push(line string) {
	if len(r.lines) == r.max {
		copy(r.lines, r.lines[1:])
		r.lines = r.lines[:r.max-1]
	}
	r.lines = append(r.lines, line)
}

// String returns the kept lines, including an unterminated last one.
func (r *ringWriter) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	for _, l := range r.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.Write(r.part)
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}
