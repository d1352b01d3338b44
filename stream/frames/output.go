package frames

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// maxJPEG bounds the Content-length accepted from ffmpeg.
const maxJPEG = 32 << 20

// read parses ffmpeg's output, multipart JPEG or raw pictures of size out,
// and publishes each picture with the access unit it came from.
func (d *decoder) read(r io.Reader, out [2]int, pics *pictureLog, pendingFrom *atomic.Int64, produced *atomic.Uint64) {
	br := bufio.NewReaderSize(r, 64<<10)
	f := d.v.Format
	stride := out[0] * f.bytesPerPixel()
	for {
		pic := Frame{Format: f}
		if f.Raw() {
			pic.Data = make([]byte, stride*out[1])
			if _, err := io.ReadFull(br, pic.Data); err != nil {
				return
			}
			pic.Width, pic.Height, pic.Stride = out[0], out[1], stride
		} else {
			jpg, err := readPart(br)
			if err != nil {
				return
			}
			pic.Data = jpg
			pic.Width, pic.Height, _ = jpegSize(jpg)
		}
		pendingFrom.Store(0)
		pic.Time = time.Now()
		if u, ok := pics.next(); ok {
			pic.Source, pic.PTS, pic.Received, pic.Keyframe = true, u.pts, u.received, u.idr
		}
		produced.Add(1)
		d.h.frames.Add(1)
		d.publish(pic)
	}
}

// publish makes pic the decoder's newest picture and wakes its viewers.
func (d *decoder) publish(pic Frame) {
	d.mu.Lock()
	defer d.mu.Unlock()
	pic.Seq = d.latest.Seq + 1
	d.latest = pic
	close(d.notify)
	d.notify = make(chan struct{})
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
