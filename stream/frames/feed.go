package frames

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
)

// feedEnd is why feed returned.
type feedEnd int

const (
	feedWriteFailed feedEnd = iota // ffmpeg's stdin was closed
	feedQueueClosed                // the stream or the reader was closed
	feedNewFormat                  // an IDR declares another picture size or rate; not written
)

// input is what ffmpeg is told of the camera's video, from the SPS before
// a keyframe: its codec, the picture size raw output is scaled from, and
// the frame rate its timestamps count in.
type input struct {
	codec capture.Codec
	size  [2]int // 0×0 when the SPS could not be read
	rate  frameRate
}

// inputOf reads the first SPS of a keyframe's Annex-B bytes. fallback is
// the rate for a stream whose SPS has no timing information.
func inputOf(codec capture.Codec, annexB []byte, fallback float64) input {
	in := input{codec: codec, rate: rateOf(fallback)}
	nalu, ok := firstSPS(codec, annexB)
	if !ok {
		return in
	}
	if codec == capture.CodecH265 {
		var sps h265.SPS
		if sps.Unmarshal(nalu) == nil {
			in.size = [2]int{sps.Width(), sps.Height()}
			in.rate = spsRate265(sps, fallback)
		}
		return in
	}
	var sps h264.SPS
	if sps.Unmarshal(nalu) == nil {
		in.size = [2]int{sps.Width(), sps.Height()}
		in.rate = spsRate(sps, fallback)
	}
	return in
}

// frameRate is a rate as a fraction, as ffmpeg takes and computes it.
type frameRate struct{ num, den int64 }

func rateOf(fps float64) frameRate {
	return reduced(int64(math.Round(fps*1000)), 1000)
}

func reduced(num, den int64) frameRate {
	g := gcd(num, den)
	return frameRate{num: num / g, den: den / g}
}

func (r frameRate) fps() float64 { return float64(r.num) / float64(r.den) }
func (r frameRate) String() string {
	if r.den == 1 {
		return strconv.FormatInt(r.num, 10)
	}
	return strconv.FormatInt(r.num, 10) + "/" + strconv.FormatInt(r.den, 10)
}

// spsRate is the frame rate ffmpeg's H.264 parser times raw input by: the
// SPS's timing information when it has any that ffmpeg accepts (and then
// -framerate is ignored), else fallback. A camera's SPS usually has it,
// and it need not be the 25 fps assumed without one: a wrong rate would
// name every picture after the wrong access unit, further off with every
// frame. ffmpeg is given this same rate as -framerate, so that both agree
// whichever of them it uses.
func spsRate(sps h264.SPS, fallback float64) frameRate {
	if sps.VUI != nil && sps.VUI.TimingInfo != nil {
		t := sps.VUI.TimingInfo
		// ffmpeg drops timing with a zero field and ignores rates of
		// 1000 fps and more; a frame is two ticks.
		if t.NumUnitsInTick > 0 && t.TimeScale > 0 && uint64(t.TimeScale) < 2000*uint64(t.NumUnitsInTick) {
			return reduced(int64(t.TimeScale), 2*int64(t.NumUnitsInTick))
		}
	}
	return rateOf(fallback)
}

// spsRate265 is spsRate for H.265, whose timing counts a frame as one
// tick.
func spsRate265(sps h265.SPS, fallback float64) frameRate {
	if sps.VUI != nil && sps.VUI.TimingInfo != nil {
		t := sps.VUI.TimingInfo
		if t.NumUnitsInTick > 0 && t.TimeScale > 0 && uint64(t.TimeScale) < 1000*uint64(t.NumUnitsInTick) {
			return reduced(int64(t.TimeScale), int64(t.NumUnitsInTick))
		}
	}
	return rateOf(fallback)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// feed writes first and then the stream's units to ffmpeg's stdin as
// Annex-B, each recorded in pics, until the write fails, the reader's queue
// is closed, the codec changes, or an IDR changes the picture size or frame
// rate from in's.
//
// If ffmpeg is slower than the camera, the write blocks, the reader's queue
// fills and the stream drops units up to the next IDR: ffmpeg then skips
// ahead instead of falling behind.
func (d *decoder) feed(sub *stream.Reader, first stream.Item, in input, w io.Writer, pics *pictureLog, pendingFrom *atomic.Int64) feedEnd {
	kfOnly := d.v.KeyframesOnly
	var buf []byte
	for it, ok := first, true; ok; it, ok = <-sub.C() {
		u := it.Unit
		if u.Codec != in.codec {
			return feedNewFormat
		}
		if kfOnly && !u.IDR {
			continue
		}
		buf = u.AppendAnnexB(buf[:0])
		if u.IDR {
			if now := inputOf(u.Codec, buf, d.h.s.InputFPS); now.size != [2]int{} && now != in {
				// A size first known now is taken if ffmpeg was told
				// the right rate.
				if in.size != [2]int{} || now.rate != in.rate {
					return feedNewFormat
				}
				in = now
			}
		}
		// ffmpeg's H.264 and H.265 parsers end an access unit only when
		// the next one begins: a frame period later, a GOP later for IDRs
		// alone. An access unit delimiter begins one at once, so the
		// picture comes a decode after the write (and each IDR is decoded
		// once).
		buf = append(buf, annexBStart...)
		if u.Codec == capture.CodecH265 {
			buf = append(buf, aud265...)
		} else {
			buf = append(buf, aud...)
		}
		// The unit is numbered before ffmpeg can decode it.
		pics.add(fedUnit{pts: u.TS, received: u.Received, idr: u.IDR})
		if _, err := w.Write(buf); err != nil {
			return feedWriteFailed
		}
		pendingFrom.CompareAndSwap(0, time.Now().UnixNano())
	}
	return feedQueueClosed
}

// firstSPS returns the first SPS NAL unit of codec in an access unit's
// Annex-B bytes.
func firstSPS(codec capture.Codec, annexB []byte) ([]byte, bool) {
	startCode := annexBStart[1:]
	for rest := annexB; ; {
		i := bytes.Index(rest, startCode)
		if i < 0 || i+len(startCode) >= len(rest) {
			return nil, false
		}
		rest = rest[i+len(startCode):]
		if codec == capture.CodecH265 {
			if h265.NALUType(rest[0]>>1&0x3f) != h265.NALUType_SPS_NUT {
				continue
			}
		} else if h264.NALUType(rest[0]&0x1f) != h264.NALUTypeSPS {
			continue
		}
		end := bytes.Index(rest, startCode)
		if end < 0 {
			end = len(rest)
		}
		// A 4-byte start code leaves a zero byte at the end.
		return bytes.TrimRight(rest[:end], "\x00"), true
	}
}
