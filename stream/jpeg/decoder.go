package jpeg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

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

// decoder is one Variant's ffmpeg, restarted as needed, and its latest
// picture.
type decoder struct {
	h      *Hub
	v      Variant
	ctx    context.Context
	cancel context.CancelFunc
	pid    atomic.Int64 // of the running ffmpeg, 0 if none; for tests

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
			log.Info("restarting ffmpeg for the camera's new picture size")
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

	// Our own pipes rather than StdinPipe/StdoutPipe: Wait can then run
	// concurrently with the reading and writing goroutines, and closing
	// our ends interrupts them.
	inR, inW, err := os.Pipe()
	if err != nil {
		return 0, "", err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return 0, "", err
	}
	stderr := &ringWriter{max: stderrLines}
	cmd := exec.Command(d.h.s.FFmpeg, d.args(hw)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, stderr
	setProcAttr(cmd)
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return 0, "", fmt.Errorf("start %s: %w", d.h.s.FFmpeg, err)
	}
	d.pid.Store(int64(cmd.Process.Pid))
	defer d.pid.Store(0)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var (
		wg          sync.WaitGroup
		pendingFrom atomic.Int64 // unix ns of the first unit fed since the last picture, 0 if none
		produced    atomic.Uint64
		streamEnd   = make(chan struct{})
		newSize     = make(chan struct{})
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		switch d.feed(sub, inW, &pendingFrom) {
		case feedQueueClosed:
			close(streamEnd)
		case feedNewSize:
			close(newSize)
		}
	}()
	go func() {
		defer wg.Done()
		d.read(outR, &pendingFrom, &produced)
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
		case exitErr = <-exited:
			waited = true
			if exitErr == nil {
				exitErr = errors.New("exit status 0")
			}
			err = fmt.Errorf("ffmpeg exited: %w", exitErr)
			break loop
		case <-tick.C:
			if p := pendingFrom.Load(); p != 0 && time.Since(time.Unix(0, p)) > stallTimeout {
				err = errStalled
				cmd.Process.Kill()
				break loop
			}
		}
	}
	// Closing stdin asks ffmpeg to flush and exit; one that does not is
	// killed. Either way it is waited for, so no zombie is left.
	inW.Close()
	if !waited {
		select {
		case <-exited:
		case <-time.After(stopGrace):
			cmd.Process.Kill()
			<-exited
		}
	}
	if d.h.exited != nil {
		d.h.exited(cmd.ProcessState)
	}
	sub.Close()
	outR.Close()
	wg.Wait()
	return produced.Load(), stderr.String(), err
}

// args returns ffmpeg's command line. The input flags keep the first picture
// close to the first IDR fed: a probe of 32 bytes and no analysis, since the
// input is known to be raw H.264 at a known rate; low_delay, which also
// turns frame threading off, and one thread, so no picture waits for the
// next frame. -fflags nobuffer must never be added: it discards what was
// read while probing, so the first picture would come a GOP late.
func (d *decoder) args(hw bool) []string {
	s := d.h.s
	old := d.h.oldFFmpeg.Load()
	a := []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-probesize", "32", "-analyzeduration", "0",
		"-flags", "low_delay", "-threads", "1",
		"-f", "h264", "-framerate", formatFloat(s.InputFPS),
	}
	if hw {
		a = append(a, "-c:v", "h264_"+string(s.HWAccel))
	} else if !old {
		// The stream probe decodes the first IDR once more before the
		// real decode, which a cold snapshot waits for. The software
		// decoder needs nothing it finds; a hardware decoder may want the
		// picture size when it opens, so it keeps the probe.
		a = append(a, "-nofind_stream_info")
	}
	a = append(a, "-i", "pipe:0", "-map", "0:v")
	// select passes each picture on as soon as it is decoded, and vfr
	// keeps their own timestamps; the constant-rate default would fill
	// the gaps between them with copies. Unprobed, the encoder gets a
	// default time base that folds some 30 fps timestamps onto their
	// neighbours; vfr would drop those pictures (passthrough stops
	// ffmpeg), so the encoder counts in milliseconds.
	if old {
		a = append(a, "-vsync", "vfr")
	} else {
		a = append(a, "-fps_mode", "vfr", "-enc_time_base", "1/1000")
	}
	return append(a,
		"-vf", d.filters(),
		// One encoder thread: with frame threads the mjpeg encoder
		// holds each picture until the next one arrives, which is a
		// frame period late at full rate and a whole GOP late with
		// keyframes only.
		"-c:v", "mjpeg", "-threads", "1", "-q:v", strconv.Itoa(qscale(d.v.Quality)),
		"-f", "mpjpeg", "pipe:1",
	)
}

// rejectedOption tells whether ffmpeg's stderr says it does not know one of
// its options, as versions before 5.1 say of -fps_mode.
func rejectedOption(stderr string) bool {
	return strings.Contains(stderr, "Unrecognized option") || strings.Contains(stderr, "Option not found")
}

func (d *decoder) filters() string {
	var f []byte
	if !d.h.s.KeyframesOnly {
		// Rather than the fps filter, which holds every picture until
		// it has seen the next one to choose between them, take a
		// picture once 1/fps has passed since the last one taken, with
		// half an input frame of slack so 25 fps input gives exactly
		// every fifth picture at 5 fps.
		gap := 1/d.h.s.FPS - 0.5/d.h.s.InputFPS
		f = fmt.Appendf(f, `select='isnan(prev_selected_t)+gte(t-prev_selected_t\,%s)',`, strconv.FormatFloat(max(gap, 0), 'f', 4, 64))
	}
	if d.v.Width > 0 {
		// min() keeps the camera's size when it is smaller: upscaling
		// costs CPU and bytes and adds nothing.
		f = fmt.Appendf(f, "scale='min(%d,iw)':-2,", d.v.Width)
	}
	// The mjpeg encoder wants full-range YUV; converting explicitly also
	// covers hardware decoders that output NV12.
	f = append(f, "format=yuvj420p"...)
	return string(f)
}

// qscale maps quality 1..100 (best) onto mjpeg's -q:v 31..2 (2 best).
func qscale(quality int) int {
	return 31 - ((quality-1)*29+49)/99
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// feedEnd is why feed returned.
type feedEnd int

const (
	feedWriteFailed feedEnd = iota // ffmpeg's stdin was closed
	feedQueueClosed                // the stream or the reader was closed
	feedNewSize                    // an IDR declares another picture size; not written
)

// feed writes the stream's units to ffmpeg's stdin as Annex-B until the
// write fails, the reader's queue is closed or an IDR changes the picture
// size.
//
// If ffmpeg is slower than the camera, the write blocks, the reader's queue
// fills and the stream drops units up to the next IDR: ffmpeg then skips
// ahead instead of falling behind.
func (d *decoder) feed(sub *stream.Reader, w io.Writer, pendingFrom *atomic.Int64) feedEnd {
	kfOnly := d.h.s.KeyframesOnly
	var buf []byte
	var size [2]int
	for it := range sub.C() {
		u := it.Unit
		if kfOnly && !u.IDR {
			continue
		}
		buf = u.AppendAnnexB(buf[:0])
		if u.IDR {
			if width, height, ok := pictureSize(buf); ok {
				if size != [2]int{} && size != [2]int{width, height} {
					return feedNewSize
				}
				size = [2]int{width, height}
			}
		}
		if kfOnly {
			// ffmpeg's H.264 parser ends an access unit only when the
			// next one begins, which for IDRs alone is a GOP later. An
			// access unit delimiter begins one at once, so the picture
			// comes a decode after the write, and each IDR is decoded
			// once.
			buf = append(buf, annexBStart...)
			buf = append(buf, aud...)
		}
		if _, err := w.Write(buf); err != nil {
			return feedWriteFailed
		}
		pendingFrom.CompareAndSwap(0, time.Now().UnixNano())
	}
	return feedQueueClosed
}

// pictureSize returns the picture size declared by the first SPS in an
// Annex-B access unit, if it has one that parses.
func pictureSize(annexB []byte) (width, height int, ok bool) {
	startCode := annexBStart[1:]
	for rest := annexB; ; {
		i := bytes.Index(rest, startCode)
		if i < 0 || i+len(startCode) >= len(rest) {
			return 0, 0, false
		}
		rest = rest[i+len(startCode):]
		if h264.NALUType(rest[0]&0x1f) != h264.NALUTypeSPS {
			continue
		}
		end := bytes.Index(rest, startCode)
		if end < 0 {
			end = len(rest)
		}
		var sps h264.SPS
		// A 4-byte start code leaves a zero byte at the end.
		if err := sps.Unmarshal(bytes.TrimRight(rest[:end], "\x00")); err != nil {
			return 0, 0, false
		}
		return sps.Width(), sps.Height(), true
	}
}

// maxJPEG bounds the Content-length accepted from ffmpeg.
const maxJPEG = 32 << 20

// read parses ffmpeg's multipart JPEG output and publishes each picture.
func (d *decoder) read(r io.Reader, pendingFrom *atomic.Int64, produced *atomic.Uint64) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		jpg, err := readPart(br)
		if err != nil {
			return
		}
		pendingFrom.Store(0)
		w, h, _ := jpegSize(jpg)
		produced.Add(1)
		d.h.frames.Add(1)
		d.mu.Lock()
		d.latest = Frame{JPEG: jpg, Width: w, Height: h, Seq: d.latest.Seq + 1, Time: time.Now()}
		close(d.notify)
		d.notify = make(chan struct{})
		d.mu.Unlock()
	}
}

// readPart reads one part of ffmpeg's mpjpeg output:
//
//	--ffmpeg\r\nContent-type: image/jpeg\r\nContent-length: N\r\n\r\n<N bytes>\r\n
//
// It relies on Content-length rather than on scanning for the JPEG's end
// marker, which may also occur inside entropy-coded data.
func readPart(br *bufio.Reader) ([]byte, error) {
	length, inHeader := -1, false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return nil, errors.New("mpjpeg: header line too long")
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if inHeader {
				break
			}
			continue // the CRLF after the previous part's data
		}
		inHeader = true
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-length")) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil || n <= 0 || n > maxJPEG {
				return nil, fmt.Errorf("mpjpeg: bad Content-length %q", v)
			}
			length = n
		}
	}
	if length < 0 {
		return nil, errors.New("mpjpeg: part without Content-length")
	}
	// Allocate as the data arrives, beyond a first chunk that holds any
	// real picture, so a bogus Content-length costs no more memory than the
	// bytes that actually follow it.
	jpg := make([]byte, min(length, firstPartChunk))
	got := 0
	for {
		n, err := io.ReadFull(br, jpg[got:])
		got += n
		if err != nil {
			return nil, err
		}
		if got == length {
			return jpg, nil
		}
		more := min(length-got, got)
		jpg = slices.Grow(jpg, more)[:got+more]
	}
}

// firstPartChunk is what readPart allocates up front for a part.
const firstPartChunk = 1 << 20

// jpegSize returns the picture size from a JPEG's SOF marker.
func jpegSize(b []byte) (width, height int, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0, 0, false
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return 0, 0, false
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			i += 2
			continue
		case m == 0xD9 || m == 0xDA: // end of image, start of scan: no SOF before
			return 0, 0, false
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		// SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			if n < 7 || i+9 > len(b) {
				return 0, 0, false
			}
			height = int(b[i+5])<<8 | int(b[i+6])
			width = int(b[i+7])<<8 | int(b[i+8])
			return width, height, true
		}
		i += 2 + n
	}
	return 0, 0, false
}

// ringWriter keeps the last max lines written to it, for logging ffmpeg's
// stderr when it fails without keeping everything it ever said.
type ringWriter struct {
	max   int
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
		r.push(string(r.part))
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
