package config

// Codec is the video codec to pull from a camera that offers several.
type Codec string

// Codecs.
const (
	// CodecAuto takes H.264 when the camera offers it (every browser plays
	// it over WebRTC), else H.265.
	CodecAuto Codec = "auto"
	CodecH264 Codec = "h264"
	CodecH265 Codec = "h265"
)
