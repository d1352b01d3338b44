package frames

import (
	"fmt"
	"time"
)

// Format is how a picture is encoded.
type Format string

// Formats.
const (
	// FormatJPEG is a JPEG image.
	FormatJPEG Format = "jpeg"
	// FormatBGR24 is packed 8-bit blue, green, red: OpenCV's order.
	FormatBGR24 Format = "bgr24"
	// FormatRGB24 is packed 8-bit red, green, blue.
	FormatRGB24 Format = "rgb24"
	// FormatGray is 8-bit luma.
	FormatGray Format = "gray"
)

// ParseFormat reads a format's name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatJPEG, FormatBGR24, FormatRGB24, FormatGray:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want jpeg, bgr24, rgb24 or gray", s)
}

// Raw reports whether pictures of f are uncompressed pixels.
func (f Format) Raw() bool { return f != FormatJPEG && f != "" }

// bytesPerPixel of a raw format.
func (f Format) bytesPerPixel() int {
	switch f {
	case FormatBGR24, FormatRGB24:
		return 3
	case FormatGray:
		return 1
	}
	return 0
}

// Frame is one picture and the access unit it was decoded from.
type Frame struct {
	// Data is the encoded picture: a JPEG, or Height rows of Stride bytes
	// of raw pixels. It is shared by all viewers and must not be modified.
	Data []byte
	// Format is Data's encoding.
	Format Format
	// Width and Height are the picture's size in pixels.
	Width, Height int
	// Stride is the number of bytes from one row of raw pixels to the
	// next; 0 for JPEG.
	Stride int
	// Seq increases by 1 per picture of the decoder that made it.
	Seq uint64
	// Time is when the picture came out of ffmpeg.
	Time time.Time

	// Source is false when the picture could not be traced to its access
	// unit (ffmpeg said nothing of it); PTS, Received and Keyframe are
	// then zero.
	Source bool
	// PTS is the access unit's RTP timestamp (90 kHz) on the stream's
	// timeline: the timestamp WebRTC viewers of the camera receive it with.
	PTS uint32
	// Received is when the access unit arrived from the camera.
	Received time.Time
	// Keyframe is true when the access unit was an IDR.
	Keyframe bool
}
