package stream

import "github.com/pion/rtp"

const (
	// unitChunkBytes and unitChunkPackets are the sizes of the chunks
	// units are cut from; a unit bigger than a chunk gets one of its own.
	unitChunkBytes   = 64 << 10
	unitChunkPackets = 128
	// maxFreeBytes bounds the memory a stream keeps for reuse: about one
	// GOP of a 1080p camera at 6 Mbit/s with an IDR every 4 s.
	maxFreeBytes = 4 << 20
)

// unitMemory is where a stream's packetized units live. Units are cut from
// chunks, and the chunks of one GOP (an IDR and the units up to the next)
// are kept track of. When the next IDR comes and no reader was handed any
// unit of that GOP, nothing but the GOP cache ever referenced them, so its
// chunks are reused for the units to come instead of being left to the GC.
//
// Why: a camera nobody watches still fills its GOP cache, so that a viewer
// arriving gets a picture at once, and the packetized copy of every frame
// would be garbage a GOP later: much of what an unwatched camera allocates,
// and the GC's work with it. A watched camera's units are handed to readers
// (queues, resend histories) whose lifetimes this does not follow, so its
// chunks are left to the GC.
//
// Its gain is measured by building with the edgecam_noreuse tag
// (reuse_on.go). It could go if the GC's cost per unwatched camera fell to
// nothing.
//
// The zero value allocates without tracking, until the first newGOP.
type unitMemory struct {
	bufs chunks[byte]
	pkts chunks[rtp.Packet]
	// track: the chunks of the current GOP are being kept track of, as it
	// may be reused.
	track bool
	// shared: a reader was handed a unit of the current GOP (or may have
	// been), so its memory cannot be reused.
	shared bool
}

// chunks is one kind of memory units are cut from.
type chunks[T any] struct {
	cur       []T   // the chunk being cut; len is what is used
	gop       [][]T // the current GOP's chunks, while tracked
	free      [][]T // chunks of earlier GOPs that nobody saw
	freeElems int
}

// handedOut records that a reader got (or may get) units of the current GOP.
func (m *unitMemory) handedOut() { m.shared = true }

// newGOP starts tracking a new GOP. The previous one's chunks are free now
// if no reader was handed any of its units.
func (m *unitMemory) newGOP() {
	if m.track && !m.shared {
		// Bytes are overwritten when cut again. Packets are cleared, so
		// that those waiting keep no payload alive and come out zeroed;
		// there is about one per kilobyte of video.
		m.bufs.release(maxFreeBytes, false)
		m.pkts.release(maxFreeBytes>>10, true)
	}
	m.forget()
	m.track, m.shared = true, false
}

// forget stops tracking the current GOP: some of its units are no longer
// in the cache (it overflowed), so when they are free cannot be known.
func (m *unitMemory) forget() {
	m.bufs.forget()
	m.pkts.forget()
	m.track = false
}

// bytes returns n bytes of memory that may hold anything from before.
func (m *unitMemory) bytes(n int) []byte { return m.bufs.cut(n, unitChunkBytes, m.track) }

// packets returns n zeroed packets.
func (m *unitMemory) packets(n int) []rtp.Packet {
	return m.pkts.cut(n, unitChunkPackets, m.track)
}

// cut returns n elements, from the chunk being cut or else from a new one
// (a free one if there is one big enough), at least size long.
func (c *chunks[T]) cut(n, size int, track bool) []T {
	if cap(c.cur)-len(c.cur) < n {
		c.cur = c.take(n, size)
		if track {
			c.gop = append(c.gop, c.cur)
		}
	}
	l := len(c.cur)
	c.cur = c.cur[:l+n]
	return c.cur[l : l+n : l+n]
}

func (c *chunks[T]) take(n, size int) []T {
	for i, f := range c.free {
		if cap(f) >= n {
			last := len(c.free) - 1
			c.free[i] = c.free[last]
			c.free[last] = nil
			c.free = c.free[:last]
			c.freeElems -= cap(f)
			return f
		}
	}
	return make([]T, 0, max(n, size))
}

// release frees the tracked GOP's chunks, keeping up to limit elements for
// reuse, zeroed if zero. The chunk being cut is among them, so the next GOP
// starts on another.
func (c *chunks[T]) release(limit int, zero bool) {
	c.cur = nil
	for _, f := range c.gop {
		if c.freeElems+cap(f) > limit {
			break
		}
		if zero {
			clear(f[:cap(f)])
		}
		c.free = append(c.free, f[:0])
		c.freeElems += cap(f)
	}
}

// forget stops tracking the GOP's chunks. Otherwise the next GOP goes on
// cutting the chunk it finds: not being among its own, it is never freed
// with it.
func (c *chunks[T]) forget() {
	clear(c.gop)
	c.gop = c.gop[:0]
}
