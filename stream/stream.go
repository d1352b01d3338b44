// Package stream fans one camera's video out to its viewers.
//
// A Stream receives each access unit once, packetizes it once into RTP, keeps
// the current GOP, and hands every Reader its own bounded queue: a slow or
// stuck viewer drops frames until the next IDR and never delays the camera or
// the other viewers. A reader whose writes never wait (a WebRTC session
// sending UDP) may instead take live units straight from the camera's
// goroutine once it has caught up (Reader.Direct), which saves a goroutine
// wake-up per viewer and frame. Package whep serves Streams to browsers over
// WebRTC, package frames decodes them into pictures.
package stream

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/edgecam/edgecam/capture"
)

const (
	// payloadMaxSize keeps RTP packets under the 1200-byte MTU browsers
	// assume, with room for SRTP's overhead.
	payloadMaxSize = 1188
	// squeezeStep is the timestamp spacing, in 90 kHz ticks (1 ms), of the
	// cached GOP frames sent to a new viewer: they are decoded at once
	// instead of being played out at the camera's frame rate, so the first
	// picture appears immediately and the viewer is at live latency as soon
	// as the burst is through.
	squeezeStep = 90
	// Limits of the GOP cache. A camera with a longer GOP is still served;
	// new viewers then wait for its next IDR.
	maxGOPUnits = 600
	maxGOPBytes = 32 << 20
	// defaultQueueLen is a reader's queue length beyond the cached GOP.
	defaultQueueLen = 128
	// recentUnits is how many units' timestamps Recent remembers: about 17
	// s at 30 fps, longer than any model takes to answer.
	recentUnits = 512
)

// ErrClosed is returned by Subscribe on a Stream that has been closed.
var ErrClosed = errors.New("stream closed")

// ErrTooManyReaders is returned by Subscribe when the stream's reader limit is reached.
var ErrTooManyReaders = errors.New("too many viewers for this camera")

// Options configure a Stream. The zero value means defaults.
type Options struct {
	// MaxReaders caps concurrent readers; 0 means no limit.
	MaxReaders int
	// QueueLen is each reader's queue length in access units beyond the
	// cached GOP. Default 128.
	QueueLen int
	// Codec is the codec the camera is expected to send until its first
	// unit says (Codec); empty means H.264.
	Codec capture.Codec
	// Label says which of the camera's streams this is ("sub"), for the
	// logs of its viewers; empty for a camera with one stream.
	Label string
}

// Unit is one access unit, packetized. Its fields and packets are shared by
// all readers and must not be modified. An IDR unit starts with its
// parameter sets; decoders (the JPEG path) read the NALUs with AppendAnnexB.
type Unit struct {
	Codec    capture.Codec // CodecH264 or CodecH265
	Packets  []rtp.Packet
	TS       uint32 // 90 kHz, continuous across camera reconnects
	IDR      bool
	Bytes    int
	Received time.Time
}

// Item is what a Reader receives: a unit and the timestamp to send it with.
// TS differs from Unit.TS only for cached units delivered at subscription.
type Item struct {
	Unit *Unit
	TS   uint32
	// Cached marks the units of the cached GOP a reader starts with, which
	// it receives all at once; live units follow.
	Cached bool
}

// Stream is one camera's fan-out. Its methods are safe for concurrent use.
type Stream struct {
	name string
	opts Options

	changed chan struct{}

	mu      sync.Mutex
	codec   capture.Codec // of the last unit, or Options.Codec before one
	pk      packetizer
	mem     unitMemory
	tl      timeline
	gop     []*Unit
	gopSize int
	readers map[*Reader]struct{}
	viewers int // readers added by Subscribe
	closed  bool
	stats   Stats
	// recent are the timestamps and arrival times of the last units, for
	// Recent; written round-robin at index Units.
	recent [recentUnits]recentUnit
}

// recentUnit is what Recent knows of a unit.
type recentUnit struct {
	ts       uint32
	received time.Time
}

// Stats are a stream's counters.
type Stats struct {
	Units   uint64
	Bytes   uint64
	Dropped uint64 // units not delivered to some reader because its queue was full
}

// New returns a Stream for the named camera.
func New(name string, opts Options) *Stream {
	if opts.QueueLen <= 0 {
		opts.QueueLen = defaultQueueLen
	}
	s := &Stream{
		name:    name,
		opts:    opts,
		changed: make(chan struct{}, 1),
		readers: make(map[*Reader]struct{}),
		codec:   opts.Codec,
		pk:      packetizer{maxPayload: payloadMaxSize, ssrc: rand.Uint32(), seq: uint16(rand.Uint32())},
	}
	return s
}

// Name returns the camera name the stream belongs to.
func (s *Stream) Name() string { return s.name }

// Label returns Options.Label: which of the camera's streams this is.
func (s *Stream) Label() string { return s.opts.Label }

// WriteAccessUnit packetizes an access unit and queues it for every reader.
// It is the camera's capture.Sink: the unit is copied and the caller keeps
// ownership of its memory. A new au.Session (the camera reconnected) starts a
// timestamp segment that continues the previous one, so viewers keep playing
// across camera reconnects.
func (s *Stream) WriteAccessUnit(au *capture.AccessUnit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	idr := au.IDR
	codec := au.Codec
	if codec == "" {
		codec = capture.CodecH264
	}
	s.codec = codec
	var mem *unitMemory
	if reuseGOPMemory {
		mem = &s.mem
		if idr && hasData(au.NALUs) {
			// cache drops the previous GOP for this IDR below; its
			// memory is free if no reader got any of it.
			mem.newGOP()
		}
	}
	// One copy per access unit, which the packets reference: it outlives
	// the caller's buffers.
	p := s.pk.packetize(codec, au.NALUs, mem)
	if len(p.packets) == 0 {
		return
	}
	ts := s.tl.next(au.PTS, au.Session, au.Received)
	for i := range p.packets {
		p.packets[i].Timestamp = ts
	}
	size := p.size
	u := &Unit{Codec: codec, Packets: p.packets, TS: ts, IDR: idr, Bytes: size, Received: au.Received}
	s.recent[s.stats.Units%recentUnits] = recentUnit{ts: ts, received: au.Received}
	s.stats.Units++
	s.stats.Bytes += uint64(size)
	s.cache(u)

	if len(s.readers) > 0 {
		s.mem.handedOut()
	}
	for r := range s.readers {
		if r.codec != codec {
			if r.viewer && r.codec != "" {
				// The camera switched codecs (reconfigured): a viewer's
				// session set up for the old one cannot play the new one,
				// so it ends, and the viewer starts a new one. A decoder
				// sees Unit.Codec change and restarts itself.
				s.drop(r)
				continue
			}
			r.codec = codec
		}
		if r.waitIDR && !idr {
			continue
		}
		if r.direct != nil {
			r.waitIDR = false
			r.direct(Item{Unit: u, TS: ts})
			continue
		}
		select {
		case r.ch <- Item{Unit: u, TS: ts}:
			r.waitIDR = false
		default:
			// The reader is behind: everything until the next IDR would be
			// undecodable for it anyway.
			r.waitIDR = true
			r.dropped++
			s.stats.Dropped++
		}
	}
}

func (s *Stream) cache(u *Unit) {
	if u.IDR {
		clear(s.gop)
		s.gop = append(s.gop[:0], u)
		s.gopSize = u.Bytes
		return
	}
	if len(s.gop) == 0 {
		return
	}
	if len(s.gop) >= maxGOPUnits || s.gopSize+u.Bytes > maxGOPBytes {
		clear(s.gop)
		s.gop = s.gop[:0]
		s.gopSize = 0
		// Units are made until the next IDR that the cache does not hold,
		// so nothing tells when they are free.
		s.mem.forget()
		return
	}
	s.gop = append(s.gop, u)
	s.gopSize += u.Bytes
}

// hasData reports whether any of nalus is non-empty, that is whether
// packetizing them makes a unit.
func hasData(nalus [][]byte) bool {
	for _, n := range nalus {
		if len(n) > 0 {
			return true
		}
	}
	return false
}

// Subscribe adds a viewer's reader, refused beyond MaxReaders. It starts
// with the cached GOP, if any, so that its first unit is always an IDR.
func (s *Stream) Subscribe() (*Reader, error) { return s.subscribe(true) }

// SubscribeDecoder adds a reader for a decoder that serves other viewers
// (the JPEG path). It is not counted against MaxReaders nor in Viewers,
// but it does count in Readers, so an on-demand camera is pulled for it.
func (s *Stream) SubscribeDecoder() (*Reader, error) { return s.subscribe(false) }

func (s *Stream) subscribe(viewer bool) (*Reader, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if viewer && s.opts.MaxReaders > 0 && s.viewers >= s.opts.MaxReaders {
		s.mu.Unlock()
		return nil, ErrTooManyReaders
	}
	r := &Reader{s: s, viewer: viewer, ch: make(chan Item, len(s.gop)+s.opts.QueueLen)}
	if viewer || len(s.gop) > 0 {
		// A viewer plays the codec its session was set up for; a decoder
		// learns it from its first unit.
		r.codec = s.currentCodec()
	}
	if viewer {
		s.viewers++
	}
	if n := len(s.gop); n > 0 {
		s.mem.handedOut()
		last := s.gop[n-1].TS
		r.cached = n
		for k, u := range s.gop {
			r.ch <- Item{Unit: u, TS: last - uint32(n-1-k)*squeezeStep, Cached: true}
		}
	} else {
		r.waitIDR = true
	}
	s.readers[r] = struct{}{}
	s.mu.Unlock()
	s.signal()
	return r, nil
}

// Codec is the codec a viewer subscribing now will be sent: that of the
// camera's last unit, or, before one came, the one Options expect.
func (s *Stream) Codec() capture.Codec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.currentCodec()
}

func (s *Stream) currentCodec() capture.Codec {
	if s.codec == "" {
		return capture.CodecH264
	}
	return s.codec
}

// Readers returns the number of current readers, decoders included.
func (s *Stream) Readers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.readers)
}

// Viewers returns the number of readers added with Subscribe.
func (s *Stream) Viewers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewers
}

// ReadersChanged signals (coalesced) that the number of readers changed;
// read Readers for the value. It lets the owner pull a camera on demand.
func (s *Stream) ReadersChanged() <-chan struct{} { return s.changed }

// Stats returns the stream's counters.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Recent reports whether one of the stream's last units (about the last 17
// seconds of video) had timestamp ts, and when it arrived from the camera.
// Detections name the frame they describe by its timestamp.
func (s *Stream) Recent(ts uint32) (received time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(s.stats.Units, recentUnits)
	for i := uint64(1); i <= n; i++ {
		if u := s.recent[(s.stats.Units-i)%recentUnits]; u.ts == ts {
			return u.received, true
		}
	}
	return time.Time{}, false
}

// HasPicture reports whether a new reader would get a picture at once.
func (s *Stream) HasPicture() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.gop) > 0
}

// Close ends every reader (their channels close) and refuses new ones.
func (s *Stream) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for r := range s.readers {
		close(r.ch)
		delete(s.readers, r)
	}
	s.viewers = 0
	clear(s.gop)
	s.gop = nil
	s.mu.Unlock()
	s.signal()
}

func (s *Stream) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Reader is one viewer's queue.
type Reader struct {
	s      *Stream
	viewer bool
	ch     chan Item
	// codec is what a viewer was set up for, or the codec of a decoder's
	// last unit (empty before its first). Guarded by s.mu.
	codec capture.Codec
	// Guarded by s.mu.
	direct  func(Item)
	waitIDR bool
	dropped uint64
	cached  int // units of the cached GOP queued at subscription
}

// C returns the reader's queue. It is closed when the reader or the stream is closed.
func (r *Reader) C() <-chan Item { return r.ch }

// Cached is how many units of the cached GOP the reader started with (0
// if it waits for the camera's next IDR).
func (r *Reader) Cached() int { return r.cached }

// Direct asks that from now on each unit be handed to write as it arrives,
// on the goroutine writing the stream, instead of being queued. It refuses
// (false) while units are queued: the reader's goroutine takes those first
// and asks again. Once it accepts, nothing more is queued; C is closed as
// before when the reader or the stream is, and after Close returns write is
// not called again.
//
// Handing a unit over costs one goroutine wake-up per viewer and frame less
// than queueing it, and wake-ups are what relaying costs most on a small
// board (docs/performance.md). write must not block: it is for
// consumers whose writes never wait on their viewer, like a WebRTC session
// sending UDP datagrams. It runs with the stream locked.
func (r *Reader) Direct(write func(Item)) bool {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.readers[r]; !ok || len(r.ch) > 0 {
		return false
	}
	r.direct = write
	return true
}

// Codec is the codec a viewer's reader was set up for, or that of the
// last unit a decoder's reader was given (empty before its first).
func (r *Reader) Codec() capture.Codec {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.codec
}

// Close removes the reader from its stream. It is safe to call more than once.
func (r *Reader) Close() {
	s := r.s
	s.mu.Lock()
	if _, ok := s.readers[r]; !ok {
		s.mu.Unlock()
		return
	}
	s.drop(r)
	s.mu.Unlock()
}

// drop removes r and closes its queue. s.mu is held.
func (s *Stream) drop(r *Reader) {
	delete(s.readers, r)
	if r.viewer {
		s.viewers--
	}
	r.direct = nil
	close(r.ch)
	s.signal()
}

// timeline maps each source session's PTS onto one continuous RTP timeline.
type timeline struct {
	started  bool
	session  uint64
	offset   int64
	lastIn   int64
	lastOut  int64
	lastWall time.Time
	frameDur int64
}

// maxJump is the largest PTS step taken as continuous; a larger one (or a
// step backwards of that size) is a discontinuity in the camera's clock.
const maxJump = 5 * 90000

func (t *timeline) next(pts int64, session uint64, wall time.Time) uint32 {
	switch {
	case !t.started:
		t.started = true
		t.frameDur = 90000 / 25
		t.offset = -pts
	case session != t.session || pts-t.lastIn > maxJump || t.lastIn-pts > maxJump:
		// Continue after the last unit by the real time that passed (at
		// least one frame): a browser's jitter buffer maps RTP time to its
		// clock, and a segment that starts "one frame later" after seconds
		// of silence would be played late, then skipped through.
		step := t.frameDur
		if !wall.IsZero() && !t.lastWall.IsZero() {
			if gap := int64(wall.Sub(t.lastWall) * 90000 / time.Second); gap > step {
				step = gap
			}
		}
		t.offset = t.lastOut + step - pts
	default:
		if d := pts - t.lastIn; d > 0 && d < 90000 {
			t.frameDur = d
		}
	}
	t.session = session
	t.lastWall = wall
	t.lastIn = pts
	t.lastOut = pts + t.offset
	return uint32(t.lastOut)
}
