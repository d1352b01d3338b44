package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// clipSpec is a generated H.264 test clip: a moving test pattern with noise,
// so that x264 really spends the bitrate, at 30 fps with one IDR every 60
// frames and no B-frames, as an IP camera's main stream.
type clipSpec struct {
	Width, Height int
	KbitPerSec    int
	Seconds       int
}

const (
	clipFPS = 30
	clipGOP = 60
)

var (
	res360  = clipSpec{Width: 640, Height: 360, KbitPerSec: 1000, Seconds: 4}
	res480  = clipSpec{Width: 854, Height: 480, KbitPerSec: 1500, Seconds: 4}
	res720  = clipSpec{Width: 1280, Height: 720, KbitPerSec: 2500, Seconds: 4}
	res1080 = clipSpec{Width: 1920, Height: 1080, KbitPerSec: 4000, Seconds: 4}
)

func (c clipSpec) String() string { return fmt.Sprintf("%dp", c.Height) }

// key names the cached file; the suffix changes whenever the ffmpeg
// arguments below do.
func (c clipSpec) key() string {
	return fmt.Sprintf("%dx%d-%dfps-gop%d-%dk-%ds-v1.h264", c.Width, c.Height, clipFPS, clipGOP, c.KbitPerSec, c.Seconds)
}

// clip returns the clip's Annex-B bytes, generating it with ffmpeg into the
// user cache directory (or tmp when there is none) on first use.
func (c clipSpec) clip(ctx context.Context, tmp string) ([]byte, error) {
	dir := filepath.Join(tmp, "clips")
	if d, err := os.UserCacheDir(); err == nil {
		dir = filepath.Join(d, "edgecam-bench")
	}
	path := filepath.Join(dir, c.key())
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	kb := c.KbitPerSec
	part := path + ".part"
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d,noise=alls=12:allf=t", c.Width, c.Height, clipFPS),
		"-t", fmt.Sprint(c.Seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
		"-bf", "0", "-g", fmt.Sprint(clipGOP), "-keyint_min", fmt.Sprint(clipGOP), "-sc_threshold", "0",
		"-b:v", fmt.Sprintf("%dk", kb), "-maxrate", fmt.Sprintf("%dk", kb), "-bufsize", fmt.Sprintf("%dk", kb),
		"-f", "h264", part)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("generate %s clip with ffmpeg: %v: %s", c, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if err := os.Rename(part, path); err != nil {
		return nil, err
	}
	logf("generated %s clip in %.1f s: %s", c, time.Since(start).Seconds(), path)
	return os.ReadFile(path)
}
