package frames

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/edgecam/edgecam/capture"
)

// args returns ffmpeg's command line for pictures of size out (0×0: let
// ffmpeg scale to the variant's width itself, as for JPEG).
//
// The input flags keep the first picture close to the first IDR fed: a
// probe of 32 bytes and no analysis, since the input is known to be raw
// H.264 or H.265 at a known rate; low_delay, which also turns frame threading off,
// and one thread, so no picture waits for the next frame. -fflags nobuffer
// must never be added: it discards what was read while probing, so the
// first picture would come a GOP late. The log level marks every line with
// its level, so that showinfo's lines (pictures.go) and the other
// informational ones stay out of the error log.
func (d *decoder) args(hw bool, out [2]int, in input) []string {
	s := d.h.s
	old := d.h.oldFFmpeg.Load()
	rate := in.rate
	demuxer, codec := "h264", "h264"
	if in.codec == capture.CodecH265 {
		demuxer, codec = "hevc", "hevc"
	}
	a := []string{
		"-hide_banner", "-loglevel", "level+info", "-nostdin",
		"-probesize", "32", "-analyzeduration", "0",
		"-flags", "low_delay", "-threads", "1",
		"-f", demuxer, "-framerate", rate.String(),
	}
	if hw {
		a = append(a, "-c:v", codec+"_"+string(s.HWAccel))
	} else if !old {
		// The stream probe decodes the first IDR once more before the
		// real decode, which a cold snapshot waits for. The software
		// decoder needs nothing it finds; a hardware decoder may want the
		// picture size when it opens, so it keeps the probe.
		a = append(a, "-nofind_stream_info")
	}
	a = append(a, "-i", "pipe:0", "-map", "0:v")
	// select passes each picture on as soon as it is decoded, and vfr
	// keeps their own timestamps; the constant-rate default would fill
	// the gaps between them with copies. Unprobed, the encoder gets a
	// default time base that folds some 30 fps timestamps onto their
	// neighbours; vfr would drop those pictures (passthrough stops
	// ffmpeg), so the encoder counts in milliseconds.
	if old {
		a = append(a, "-vsync", "vfr")
	} else {
		a = append(a, "-fps_mode", "vfr", "-enc_time_base", "1/1000")
	}
	a = append(a, "-vf", d.filters(out, rate.fps()))
	if d.v.Format.Raw() {
		// Each picture is written as soon as it is made: a small raw
		// picture would otherwise wait in the output buffer for the next.
		// One encoder thread, as for JPEG below: with frame threads the
		// rawvideo encoder too holds each picture until the next one,
		// 200 ms at 5 fps.
		return append(a, "-c:v", "rawvideo", "-threads", "1", "-pix_fmt", string(d.v.Format),
			"-flush_packets", "1", "-f", "rawvideo", "pipe:1")
	}
	return append(a,
		// One encoder thread: with frame threads the mjpeg encoder
		// holds each picture until the next one arrives, which is a
		// frame period late at full rate and a whole GOP late with
		// keyframes only.
		"-c:v", "mjpeg", "-threads", "1", "-q:v", strconv.Itoa(qscale(d.v.Quality)),
		"-f", "mpjpeg", "pipe:1",
	)
}

// rejectedOption tells whether ffmpeg's stderr says it does not know one of
// its options, as versions before 5.1 say of -fps_mode.
func rejectedOption(stderr string) bool {
	return strings.Contains(stderr, "Unrecognized option") || strings.Contains(stderr, "Option not found")
}

func (d *decoder) filters(out [2]int, inputFPS float64) string {
	var f []byte
	if !d.v.KeyframesOnly {
		// Rather than the fps filter, which holds every picture until
		// it has seen the next one to choose between them, take a
		// picture once 1/fps has passed since the last one taken, with
		// half an input frame of slack so 25 fps input gives exactly
		// every fifth picture at 5 fps.
		gap := 1/d.h.s.FPS - 0.5/inputFPS
		f = fmt.Appendf(f, `select='isnan(prev_selected_t)+gte(t-prev_selected_t\,%s)',`, strconv.FormatFloat(max(gap, 0), 'f', 4, 64))
	}
	switch {
	case out[0] > 0:
		// Raw pictures are read in whole rows of a known size, and
		// models expect full-range values.
		f = fmt.Appendf(f, "scale=%d:%d:out_range=full,format=%s,", out[0], out[1], d.v.Format)
	case d.v.Width > 0:
		// min() keeps the camera's size when it is smaller: upscaling
		// costs CPU and bytes and adds nothing.
		f = fmt.Appendf(f, "scale='min(%d,iw)':-2,format=yuvj420p,", d.v.Width)
	default:
		// The mjpeg encoder wants full-range YUV; converting explicitly
		// also covers hardware decoders that output NV12.
		f = append(f, "format=yuvj420p,"...)
	}
	// Last, so that it logs exactly the pictures written out.
	f = append(f, "showinfo"...)
	if !d.h.oldFFmpeg.Load() {
		f = append(f, "=checksum=0"...)
	}
	return string(f)
}

// qscale maps quality 1..100 (best) onto mjpeg's -q:v 31..2 (2 best).
func qscale(quality int) int {
	return 31 - ((quality-1)*29+49)/99
}
