// Package lowres holds a second, smaller test clip, for tests that switch a
// test camera's resolution mid-stream (testcamera.Camera.SetClip). It lives
// apart from testcamera so that the edgecam binary, which embeds the
// testcamera clip for its demo, does not carry this one.
package lowres

import _ "embed"

// The clip's properties, promised by mkclip.sh and checked by the tests.
const (
	Width  = 320
	Height = 240
	// FPS and GOP are the same as the testcamera clip's.
	FPS = 25
	GOP = 25
)

// The clip is made by ../mkclip.sh; `go generate` re-runs it (needs ffmpeg
// with libx264 and the DejaVu fonts).
//
//go:generate env SIZE=320x240 FRAMES=50 OUT=lowres/clip_320x240.h264 FONT=20 CRF=32 sh ../mkclip.sh
//go:embed clip_320x240.h264
var clip []byte

// Clip returns the raw Annex-B clip: two one-second GOPs, each starting with
// SPS, PPS and an IDR.
func Clip() []byte { return clip }
