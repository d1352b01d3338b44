package testcamera

// The embedded clip is made by mkclip.sh; `go generate` re-runs it (needs
// ffmpeg with libx264 and the DejaVu fonts). Regenerate only on purpose: the
// output is committed so that builds and tests never need ffmpeg.

//go:generate sh mkclip.sh
