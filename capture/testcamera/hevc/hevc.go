// Package hevc holds an H.265 test clip, for test cameras that serve H.265
// (testcamera.Options{Codec: "h265", Clip: hevc.Clip()}). It lives apart
// from testcamera so that the edgecam binary, which embeds the testcamera
// clip for its demo, does not carry this one.
package hevc

import _ "embed"

// The clip's properties, promised by mkclip265.sh and checked by the tests:
// the same as the testcamera H.264 clip's.
const (
	Width  = 640
	Height = 360
	FPS    = 25
	GOP    = 25
)

// The clip is made by ../mkclip265.sh; `go generate` re-runs it (needs
// ffmpeg with libx265 and the DejaVu fonts).
//
//go:generate sh ../mkclip265.sh
//go:embed clip.h265
var clip []byte

// Clip returns the raw Annex-B H.265 clip: two one-second GOPs, each
// starting with VPS, SPS, PPS and an IDR.
func Clip() []byte { return clip }
