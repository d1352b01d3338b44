package capture

import (
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// reader turns one session's RTP packets into access units. All its methods
// run on the RTSP reader goroutine, except the atomics read by the stall watch.
type reader struct {
	cam     *Camera
	session uint64
	params  *paramSet

	// synced is false until the first IDR with known parameters: units
	// before it reference pictures this session never received.
	synced bool
	// prevPTS is the PTS of the previous packet, which is the PTS of the
	// unit the decoder returns when it splits on a timestamp change.
	prevPTS int64
	dec     naluDecoder
	au      AccessUnit
	nalus   [][]byte

	delivered atomic.Bool
	lastUnit  atomic.Int64 // unix nanos of the last delivered unit
}

func (r *reader) handle(pkt *rtp.Packet, pts int64, errs *rateLog) {
	prev := r.prevPTS
	r.prevPTS = pts
	nalus, err := r.dec.decode(pkt)
	if err != nil {
		if err != errMorePacketsNeeded && err != errNonStartingNoPrevious {
			r.cam.addCounts(0, 1)
			errs.add(1, r.cam.redact(err.Error()))
		}
		return
	}
	if !pkt.Marker {
		// The decoder split on a timestamp change: the unit it returned
		// belongs to the previous packet.
		pts = prev
	}
	r.deliver(nalus, pts)
}

func (r *reader) deliver(nalus [][]byte, pts int64) {
	idr, spsChanged := r.params.scan(nalus)
	if spsChanged {
		r.cam.onParams(r.params)
	}
	if idr {
		if !r.params.complete() {
			// A keyframe without parameters cannot be decoded by anyone.
			return
		}
		if !r.params.leads(nalus) {
			// Browsers and ffmpeg need the parameters in-band before every
			// keyframe, and many cameras send them only in the SDP or
			// once, or after an AUD or SEI.
			r.nalus = r.params.prepend(r.nalus[:0], nalus)
			nalus = r.nalus
		}
		r.synced = true
	}
	if !r.synced {
		return
	}

	now := time.Now()
	size := 0
	for _, n := range nalus {
		size += len(n)
	}
	r.au = AccessUnit{Codec: r.params.codec, NALUs: nalus, PTS: pts, IDR: idr, Session: r.session, Received: now}
	if !r.delivered.Load() {
		r.delivered.Store(true)
		r.cam.setState(StateStreaming, "")
		r.cam.log.Info("camera streaming", "codec", r.params.codec, "width", r.params.width, "height", r.params.height)
	} else if r.cam.stale.Load() {
		r.cam.setState(StateStreaming, "")
	}
	r.lastUnit.Store(now.UnixNano())
	r.cam.countUnit(now, size, idr, pts)
	r.cam.sink.WriteAccessUnit(&r.au)
}

func (c *Camera) onParams(p *paramSet) {
	c.mu.Lock()
	changed := c.status.Width != p.width || c.status.Height != p.height
	old := [2]int{c.status.Width, c.status.Height}
	c.status.Width, c.status.Height = p.width, p.height
	c.status.BFrames = p.reorders
	c.mu.Unlock()
	if changed && old[0] != 0 {
		c.log.Info("camera resolution changed", "from", resolution(old[0], old[1]), "to", resolution(p.width, p.height))
	}
}

func resolution(w, h int) string {
	return strconv.Itoa(w) + "x" + strconv.Itoa(h)
}

func (c *Camera) countUnit(now time.Time, size int, idr bool, pts int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate.add(now, size)
	c.status.Frames++
	c.status.Bytes += uint64(size)
	c.status.LastFrame = now
	c.sinceIDR++
	if idr {
		if c.lastIDRPTS != nil {
			if d := time.Duration(pts-*c.lastIDRPTS) * time.Second / 90000; d > 0 {
				c.status.KeyframeInterval = d
				c.status.GOPFrames = c.sinceIDR
			}
		}
		c.lastIDRPTS = &pts
		c.sinceIDR = 0
	}
}

// rateWindow measures frames and bits per second over roughly the last second.
type rateWindow struct {
	start         time.Time
	frames, bytes int
	fps, bitrate  float64
}

func (w *rateWindow) add(now time.Time, size int) {
	if w.start.IsZero() {
		w.start = now
	}
	w.frames++
	w.bytes += size
	if el := now.Sub(w.start); el >= time.Second {
		w.fps = float64(w.frames) / el.Seconds()
		w.bitrate = float64(w.bytes*8) / el.Seconds()
		w.start, w.frames, w.bytes = now, 0, 0
	}
}

// read returns the last completed measurement, or zero when the camera has
// gone quiet for longer than a measurement window.
func (w *rateWindow) read(now time.Time) (fps, bitrate float64) {
	if w.start.IsZero() || now.Sub(w.start) > 3*time.Second {
		return 0, 0
	}
	return w.fps, w.bitrate
}

// rateLog logs a recurring event at most once per interval, with a count.
type rateLog struct {
	log      *slog.Logger
	msg      string
	interval time.Duration

	mu    sync.Mutex
	last  time.Time
	count uint64
}

func newRateLog(log *slog.Logger, msg string, interval time.Duration) *rateLog {
	return &rateLog{log: log, msg: msg, interval: interval}
}

func (l *rateLog) add(n uint64, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count += n
	now := time.Now()
	if now.Sub(l.last) < l.interval {
		return
	}
	if detail != "" {
		l.log.Warn(l.msg, "count", l.count, "last_error", detail)
	} else {
		l.log.Warn(l.msg, "count", l.count)
	}
	l.last, l.count = now, 0
}
