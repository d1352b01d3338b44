// Package vision is a test clip for vision features: every picture shows its
// own frame number and a marker that moves a fixed step per frame, so a test
// can read back, from decoded pixels, which frame it holds and where the
// marker is. It serves tests that check that pictures, their metadata and the
// boxes a detector draws on them line up, frame for frame. Serve it with
// testcamera.Options{Clip: vision.Clip()}. Only tests import it.
package vision

import (
	_ "embed"
	"image"
)

// The clip's properties, promised by mkclip.sh.
const (
	Width  = 640
	Height = 360
	FPS    = 25
	GOP    = 25
	// Frames is the clip's length; the camera loops it, so frame numbers
	// read back count modulo Frames.
	Frames = 250

	// MarkerSize is the marker's side, MarkerStep how far it moves right
	// per frame, MarkerY its top edge; its left edge is
	// ((n+1)*MarkerStep) mod MarkerSpan at frame n (ffmpeg's overlay
	// counts frames from 1).
	MarkerSize = 40
	MarkerStep = 8
	MarkerSpan = 600
	MarkerY    = 100

	// The frame number's bit k is a white block of barSize at
	// (barX+k*barPitch, barY).
	bits     = 10
	barX     = 16
	barY     = 310
	barSize  = 32
	barPitch = 36
)

// The clip is made by mkclip.sh; `go generate` re-runs it.
//
//go:generate sh mkclip.sh
//go:embed clip.h264
var clip []byte

//go:embed clip30.h264
var clip30 []byte

// Clip returns the raw Annex-B clip.
func Clip() []byte { return clip }

// FPS30 is the rate of Clip30.
const FPS30 = 30

// Clip30 returns the same pictures encoded at 30 fps, in GOPs of 30, with
// an SPS that says so, as most cameras send: a decoder that assumed the
// clip's rate would be off by a sixth.
func Clip30() []byte { return clip30 }

// MarkerAt is where the marker is in frame n, in the clip's pixels.
func MarkerAt(n int) image.Rectangle {
	x := ((n + 1) * MarkerStep) % MarkerSpan
	return image.Rect(x, MarkerY, x+MarkerSize, MarkerY+MarkerSize)
}

// Picture is a decoded picture to read: Height rows of Stride bytes, each
// pixel BytesPerPixel bytes of which the first is luma or any color channel
// (gray, bgr24 and rgb24 all work: the clip is black and white).
type Picture struct {
	Pix           []byte
	Width, Height int
	Stride        int
	BytesPerPixel int
}

// at returns the brightness of the pixel at the clip's coordinates (x, y),
// scaled to the picture's size.
func (p Picture) at(x, y int) byte {
	px := x * p.Width / Width
	py := y * p.Height / Height
	if px < 0 || py < 0 || px >= p.Width || py >= p.Height {
		return 0
	}
	return p.Pix[py*p.Stride+px*p.BytesPerPixel]
}

// FrameNumber reads the frame number the picture shows.
func (p Picture) FrameNumber() int {
	n := 0
	for k := range bits {
		if p.at(barX+k*barPitch+barSize/2, barY+barSize/2) > 128 {
			n |= 1 << k
		}
	}
	return n
}

// Marker finds the marker in the picture, in the clip's pixels; false if it
// is not there.
func (p Picture) Marker() (image.Rectangle, bool) {
	// Scan the marker's row band at the picture's own resolution.
	y := (MarkerY + MarkerSize/2) * p.Height / Height
	if y < 0 || y >= p.Height {
		return image.Rectangle{}, false
	}
	first, last := -1, -1
	row := p.Pix[y*p.Stride:]
	for x := 0; x < p.Width; x++ {
		if row[x*p.BytesPerPixel] > 128 {
			if first < 0 {
				first = x
			}
			last = x
		}
	}
	if first < 0 {
		return image.Rectangle{}, false
	}
	x0 := first * Width / p.Width
	x1 := (last + 1) * Width / p.Width
	return image.Rect(x0, MarkerY, x1, MarkerY+MarkerSize), true
}
