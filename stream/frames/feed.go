package frames

import (
	"bytes"
	"io"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/edgecam/edgecam/stream"
)

// feedEnd is why feed returned.
type feedEnd int

const (
	feedWriteFailed feedEnd = iota // ffmpeg's stdin was closed
	feedQueueClosed                // the stream or the reader was closed
	feedNewSize                    // an IDR declares another picture size; not written
)

// feed writes first and then the stream's units to ffmpeg's stdin as
// Annex-B, each recorded in pics, until the write fails, the reader's queue
// is closed or an IDR changes the picture size from size.
//
// If ffmpeg is slower than the camera, the write blocks, the reader's queue
// fills and the stream drops units up to the next IDR: ffmpeg then skips
// ahead instead of falling behind.
func (d *decoder) feed(sub *stream.Reader, first stream.Item, size [2]int, w io.Writer, pics *pictureLog, pendingFrom *atomic.Int64) feedEnd {
	kfOnly := d.v.KeyframesOnly
	var buf []byte
	for it, ok := first, true; ok; it, ok = <-sub.C() {
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
		// ffmpeg's H.264 parser ends an access unit only when the next
		// one begins: a frame period later, a GOP later for IDRs alone.
		// An access unit delimiter begins one at once, so the picture
		// comes a decode after the write (and each IDR is decoded once).
		buf = append(buf, annexBStart...)
		buf = append(buf, aud...)
		// The unit is numbered before ffmpeg can decode it.
		pics.add(fedUnit{pts: u.TS, received: u.Received, idr: u.IDR})
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
