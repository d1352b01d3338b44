package frames

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/vision"
	"github.com/edgecam/edgecam/stream"
)

// idrHashes maps the hash of each IDR slice of the vision clip to the clip
// frame it belongs to. An IDR is coded on its own, and every one shows
// another frame number, so its slice names its frame; P-slices need not
// (two frames that change alike in the same place of their GOPs code alike).
func idrHashes(clip []byte) map[[32]byte]int {
	m := map[[32]byte]int{}
	n := 0
	for _, nalu := range bytes.Split(clip, []byte{0, 0, 1}) {
		nalu = bytes.TrimRight(nalu, "\x00")
		if len(nalu) == 0 {
			continue
		}
		switch nalu[0] & 0x1f {
		case 5:
			m[sha256.Sum256(nalu)] = n
			n++
		case 1:
			n++
		}
	}
	return m
}

// truth records, for every access unit of a stream, which clip frame it
// carries, by its timestamp: what each picture's PTS must lead back to. An
// IDR names its frame; the units after it follow on one by one, as the
// camera sends them over TCP.
type truth struct {
	mu      sync.Mutex
	frames  map[uint32]int
	changed chan struct{} // closed and replaced at every unit recorded
}

func watchTruth(t *testing.T, st *stream.Stream, clip []byte) *truth {
	t.Helper()
	hashes := idrHashes(clip)
	r, err := st.SubscribeDecoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	tr := &truth{frames: map[uint32]int{}, changed: make(chan struct{})}
	go func() {
		var buf []byte
		cur := -1
		for it := range r.C() {
			if cur >= 0 {
				cur = (cur + 1) % vision.Frames
			}
			if it.Unit.IDR {
				cur = -1
				buf = it.Unit.AppendAnnexB(buf[:0])
				for _, nalu := range bytes.Split(buf, []byte{0, 0, 0, 1}) {
					if n, ok := hashes[sha256.Sum256(nalu)]; ok && len(nalu) > 0 {
						cur = n
					}
				}
			}
			if cur >= 0 {
				tr.mu.Lock()
				tr.frames[it.Unit.TS] = cur
				close(tr.changed)
				tr.changed = make(chan struct{})
				tr.mu.Unlock()
			}
		}
	}()
	return tr
}

// frame returns the clip frame of the unit with timestamp pts. The
// watcher reads the stream on its own goroutine, which on a loaded machine
// may not have reached the unit yet that ffmpeg has already decoded: it is
// given 2 s to.
func (tr *truth) frame(pts uint32) (int, bool) {
	deadline := time.After(2 * time.Second)
	for {
		tr.mu.Lock()
		n, ok := tr.frames[pts]
		changed := tr.changed
		tr.mu.Unlock()
		if ok {
			return n, true
		}
		select {
		case <-changed:
		case <-deadline:
			return 0, false
		}
	}
}

// pixels returns a picture's luma, or its first channel, to read back.
func pixels(t *testing.T, f Frame) vision.Picture {
	t.Helper()
	if f.Format.Raw() {
		return vision.Picture{Pix: f.Data, Width: f.Width, Height: f.Height, Stride: f.Stride, BytesPerPixel: f.Format.bytesPerPixel()}
	}
	img, err := jpeg.Decode(bytes.NewReader(f.Data))
	if err != nil {
		t.Fatalf("picture %d: %v", f.Seq, err)
	}
	y, ok := img.(*image.YCbCr)
	if !ok {
		t.Fatalf("picture %d decodes to %T", f.Seq, img)
	}
	return vision.Picture{Pix: y.Y, Width: y.Rect.Dx(), Height: y.Rect.Dy(), Stride: y.YStride, BytesPerPixel: 1}
}

// Every picture a decoder makes names the access unit it was decoded from:
// the frame number the camera drew into its pixels is the one carried by
// the access unit its PTS names. Checked for every picture, in every
// format, with keyframes only, and across a camera reconnect.
func TestEveryPictureNamesTheAccessUnitItWasDecodedFrom(t *testing.T) {
	needFFmpeg(t)
	for _, tc := range []struct {
		name string
		v    Variant
		// fps30 serves the clip at 30 fps, its SPS saying so, where the
		// hub assumes 25 of a camera that does not say.
		fps30 bool
	}{
		{"gray", Variant{Format: FormatGray, Width: 320}, false},
		{"bgr24", Variant{Format: FormatBGR24, Width: 160}, false},
		{"jpeg", Variant{Width: 320}, false},
		{"keyframes only", Variant{Format: FormatRGB24, Width: 320, KeyframesOnly: true}, false},
		{"camera at 30 fps", Variant{Format: FormatGray, Width: 320}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			camOpts := testcamera.Options{Clip: vision.Clip()}
			if tc.fps30 {
				camOpts = testcamera.Options{Clip: vision.Clip30(), FPS: vision.FPS30}
			}
			cam, err := testcamera.Start(camOpts)
			if err != nil {
				t.Fatal(err)
			}
			st := stream.New("vision", stream.Options{})
			t.Cleanup(st.Close)
			tr := watchTruth(t, st, camOpts.Clip)
			pull(t, st, cam.URL())
			h := startHub(t, st, Settings{FPS: vision.FPS, IdleStop: time.Second})
			v, err := h.Subscribe(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(v.Close)

			checked, mismatches := 0, 0
			check := func(until time.Time) {
				var last uint64
				for time.Now().Before(until) {
					wctx, wcancel := context.WithDeadline(context.Background(), until)
					f, err := v.Next(wctx, last)
					wcancel()
					if err != nil {
						return
					}
					last = f.Seq
					if !f.Source {
						t.Errorf("picture %d does not say which access unit it came from", f.Seq)
						continue
					}
					want, ok := tr.frame(f.PTS)
					if !ok {
						t.Errorf("picture %d names PTS %d, which no access unit had", f.Seq, f.PTS)
						continue
					}
					checked++
					if got := pixels(t, f).FrameNumber(); got != want {
						mismatches++
						t.Errorf("picture %d shows clip frame %d, its metadata names the access unit of frame %d", f.Seq, got, want)
					}
				}
			}
			check(time.Now().Add(4 * time.Second))
			// The camera goes away and comes back: a new RTSP session,
			// timestamps starting somewhere else, the clip from its start.
			addr := cam.Addr()
			cam.Close()
			camOpts.Addr = addr
			cam, err = testcamera.Start(camOpts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cam.Close)
			check(time.Now().Add(5 * time.Second))
			min := 40
			if tc.v.KeyframesOnly {
				min = 5
			}
			if checked < min {
				t.Fatalf("only %d pictures checked, want at least %d", checked, min)
			}
			t.Logf("%d pictures checked, %d mismatches", checked, mismatches)
		})
	}
}
