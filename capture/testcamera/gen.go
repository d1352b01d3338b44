package testcamera

// The embedded clips are made by mkclip.sh; `go generate` re-runs it (needs
// ffmpeg with libx264 and the DejaVu fonts). Regenerate only on purpose: the
// output is committed so that builds and tests never need ffmpeg.

//go:generate sh mkclip.sh
//go:generate env SIZE=320x240 FRAMES=50 OUT=clip_320x240.h264 FONT=20 CRF=32 sh mkclip.sh
