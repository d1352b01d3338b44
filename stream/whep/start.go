package whep

import (
	"fmt"
	"time"

	"github.com/edgecam/edgecam/stream"
)

// Start says what a joining viewer gets before the camera's live frames.
type Start int

const (
	// StartGOP sends the whole cached GOP, squeezed, so the viewer decodes
	// it at once and moves at live latency as soon as it has: the first
	// picture at once and motion soon after, at the cost of decoding up to
	// a GOP of frames in a burst. The default.
	StartGOP Start = iota
	// StartKeyframe sends the cached keyframe alone, then the camera's
	// frames from its next keyframe on: the first picture as soon, standing
	// still until that keyframe (up to a GOP, 2 s on most cameras). A wall
	// of many cameras in one browser wants this: it decodes one frame per
	// camera instead of a burst of up to a GOP each, and on a weak display
	// those bursts are what keep the last tiles waiting. A GOP of at most
	// keyframeStartKeep units so far is sent whole all the same: it costs
	// little and saves the wait.
	StartKeyframe
)

// keyframeStartKeep is the longest cached GOP a keyframe start still sends
// whole: 200 ms at 30 fps.
const keyframeStartKeep = 6

// ParseStart reads a start as a URL names it: "" or "gop", or "keyframe".
func ParseStart(s string) (Start, error) {
	switch s {
	case "", "gop":
		return StartGOP, nil
	case "keyframe":
		return StartKeyframe, nil
	}
	return StartGOP, fmt.Errorf("start=%q: want gop or keyframe", s)
}

// WithStart sets what the viewer gets before the live frames (StartGOP if
// not given).
func WithStart(s Start) OfferOption {
	return func(o *offerOptions) { o.start = s }
}

// keyframeRepeats is when, after a keyframe start sent its keyframe, it
// sends it again while the camera's next one is still to come. A browser
// whose page is busy setting up a wall of tiles can get the first frame
// before the tile's video player is there to take it: with a GOP start the
// frames after it would show, with a keyframe start the tile would stay
// blank until the camera's next keyframe (seen on 16-tile loads on two
// cores). A repeat costs one keyframe; a browser that showed the first
// shows the same picture again.
var keyframeRepeats = []time.Duration{300 * time.Millisecond, 900 * time.Millisecond}

// keyframeOnly is a keyframe start's state in a sessionWriter: it passes
// the cached keyframe and then nothing until the camera's next keyframe,
// but the cached keyframe again at repeats after it.
type keyframeOnly struct {
	on      bool // still skipping (or about to)
	repeats []time.Duration
	key     *stream.Unit // the cached keyframe, once sent
	keyTS   uint32       // its timestamp
	sentAt  time.Time
	sent    int // repeats sent
}

// skip reports whether item is left out.
func (k *keyframeOnly) skip(item stream.Item) bool {
	switch {
	case !k.on:
		return false
	case k.key == nil:
		// The first unit of a replay is its keyframe.
		k.key, k.keyTS, k.sentAt = item.Unit, item.TS, time.Now()
		return false
	case item.Unit.IDR && !item.Cached:
		k.on = false
		return false
	}
	return true
}

// again returns the cached keyframe to send once more, if one of the
// repeats is due at now: stamped with the time passed since it was first
// sent, so that timestamps keep rising towards the live ones.
func (k *keyframeOnly) again(now time.Time) (stream.Item, bool) {
	if !k.on || k.key == nil || k.sent >= len(k.repeats) || now.Sub(k.sentAt) < k.repeats[k.sent] {
		return stream.Item{}, false
	}
	k.sent++
	return stream.Item{Unit: k.key, TS: k.keyTS + uint32(now.Sub(k.sentAt)/time.Millisecond)*90}, true
}
