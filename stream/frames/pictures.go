package frames

import (
	"bytes"
	"strconv"
	"sync"
	"time"
)

// How a picture is traced back to its access unit: ffmpeg's raw H.264
// demuxer numbers the access units it is fed, 0, 1, 2, … (a timestamp of
// n/rate each, whether or not the unit decodes; the rate is the SPS's when
// it has one, see spsRate), and the showinfo
// filter at the end of the filter graph logs the timestamp of every picture
// that leaves it, in the order the pictures are then written out. So the
// k-th picture read from ffmpeg is the one the k-th showinfo line describes,
// and that line's timestamp names the access unit fed.

// sourceWait bounds how long a picture waits for its showinfo line, which
// ffmpeg writes before the picture itself.
const sourceWait = 2 * time.Second

// maxFed bounds the access units remembered while ffmpeg outputs nothing
// (a decoder that keeps only one picture in many, or a stalled one).
const maxFed = 4096

// fedUnit is what a picture says of the access unit it came from.
type fedUnit struct {
	pts      uint32
	received time.Time
	idr      bool
}

// pictureLog maps ffmpeg's pictures to the access units fed to it, for one
// ffmpeg run. feed adds units, ffmpeg's stderr adds the pictures it shows,
// and the output reader takes them in order.
type pictureLog struct {
	rate frameRate // the rate ffmpeg's timestamps count in

	mu      sync.Mutex
	fed     []fedUnit // fed[i] is the unit numbered base+i
	base    int64
	shown   []int64 // numbers of the units of pictures not yet read
	tbNum   int64   // showinfo's time base, from its config line
	tbDen   int64
	changed chan struct{} // closed and replaced when shown grows or ends
	ended   bool
}

func newPictureLog(rate frameRate) *pictureLog {
	return &pictureLog{rate: rate, changed: make(chan struct{})}
}

// add records the next access unit written to ffmpeg.
func (l *pictureLog) add(u fedUnit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fed) >= maxFed {
		drop := len(l.fed) - maxFed + 1
		l.fed = append(l.fed[:0], l.fed[drop:]...)
		l.base += int64(drop)
	}
	l.fed = append(l.fed, u)
}

// end says that no more showinfo lines will come: ffmpeg's stderr closed.
func (l *pictureLog) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ended {
		l.ended = true
		close(l.changed)
	}
}

// next returns the access unit of the next picture read from ffmpeg, or
// false if ffmpeg said nothing of it in time.
func (l *pictureLog) next() (fedUnit, bool) {
	deadline := time.NewTimer(sourceWait)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		if len(l.shown) > 0 {
			n := l.shown[0]
			l.shown = l.shown[1:]
			u, ok := l.unit(n)
			l.mu.Unlock()
			return u, ok
		}
		ch, ended := l.changed, l.ended
		l.mu.Unlock()
		if ended {
			return fedUnit{}, false
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fedUnit{}, false
		}
	}
}

// unit returns the unit numbered n and forgets the ones before it: pictures
// come out in the order their units went in. l.mu is held.
func (l *pictureLog) unit(n int64) (fedUnit, bool) {
	i := n - l.base
	if i < 0 || i >= int64(len(l.fed)) {
		return fedUnit{}, false
	}
	u := l.fed[i]
	l.fed = append(l.fed[:0], l.fed[i+1:]...)
	l.base = n + 1
	return u, true
}

var (
	showinfoTag   = []byte("Parsed_showinfo")
	timeBaseField = []byte("config in time_base: ")
	ptsField      = []byte(" pts:")
	nField        = []byte(" n:")
)

// line takes one line of ffmpeg's stderr and reports whether it was
// showinfo's (and so is not worth keeping for the log).
func (l *pictureLog) line(b []byte) bool {
	if !bytes.Contains(b, showinfoTag) {
		return false
	}
	if i := bytes.Index(b, timeBaseField); i >= 0 {
		num, den, ok := parseRational(b[i+len(timeBaseField):])
		if ok {
			l.mu.Lock()
			l.tbNum, l.tbDen = num, den
			l.mu.Unlock()
		}
		return true
	}
	if !bytes.Contains(b, nField) {
		return true // side data and other detail lines
	}
	i := bytes.Index(b, ptsField)
	if i < 0 {
		return true
	}
	pts, ok := parseInt(b[i+len(ptsField):])
	if !ok {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tbDen == 0 {
		return true
	}
	// The unit's number is its timestamp in frame periods, rounded;
	// float64 holds the product exactly for years of video.
	num := pts * l.tbNum
	n := int64(float64(num)*float64(l.rate.num)/(float64(l.tbDen)*float64(l.rate.den)) + 0.5)
	l.shown = append(l.shown, n)
	close(l.changed)
	l.changed = make(chan struct{})
	return true
}

// parseRational reads "N/D" at the start of b.
func parseRational(b []byte) (num, den int64, ok bool) {
	n, d, found := bytes.Cut(b, []byte("/"))
	if !found {
		return 0, 0, false
	}
	num, ok1 := parseInt(n)
	den, ok2 := parseInt(d)
	return num, den, ok1 && ok2 && den > 0
}

// parseInt reads a decimal integer at the start of b, after spaces.
func parseInt(b []byte) (int64, bool) {
	b = bytes.TrimLeft(b, " ")
	end := 0
	for end < len(b) && (b[end] >= '0' && b[end] <= '9' || end == 0 && b[end] == '-') {
		end++
	}
	v, err := strconv.ParseInt(string(b[:end]), 10, 64)
	return v, err == nil
}
