package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// scenario is one measured setup.
type scenario struct {
	Name      string
	About     string
	Cameras   int
	Clip      clipSpec
	PerCamera int  // WHEP viewers per camera
	Churn     bool // replace one viewer per camera every second
	// KernelBuffer keeps the viewers' UDP receive buffers at the kernel's
	// default instead of the player's 1 MB.
	KernelBuffer bool
	// KeyframeStart has the viewers ask for a keyframe start
	// (?start=keyframe): the cached IDR alone, not the whole GOP.
	KeyframeStart bool
	// JPEG measures the fallbacks instead of WebRTC: snapshot latency,
	// first JPEG, and CPU with 1 and 5 MJPEG readers.
	JPEG          bool
	KeyframesOnly bool
	// Frames measures one model reader per camera on /frames (bgr24, 640
	// px, 5 fps) against one MJPEG reader at the same size and rate.
	Frames bool
	// Detections measures a model per camera posting 10 messages of 20
	// objects a second, and their way to a viewer.
	Detections bool
	// Grid opens the page's grid in headless Chromium over WebRTC and
	// measures the browser beside the daemon (grid.go).
	Grid bool
	// Sub, when set, gives every camera a sub-stream of this clip, which
	// the grid plays.
	Sub clipSpec
	// OnDemand pulls each stream only while it has viewers.
	OnDemand bool
	// Page loads the page in headless Chromium again and again and takes
	// each load's start apart stage by stage (page.go).
	Page bool
}

// vision tells the scenarios of models apart from those of viewers.
func (s scenario) vision() bool { return s.Frames || s.Detections }

// scenarios are the named setups, the ones docs/performance.md's targets
// are about; findScenario also builds any other from its name.
var scenarios = []scenario{
	{Name: "1080p-1v", About: "1 camera 1080p30 4 Mbit/s, 1 viewer", Cameras: 1, Clip: res1080, PerCamera: 1},
	{Name: "1080p-10v", About: "1 camera 1080p30 4 Mbit/s, 10 viewers", Cameras: 1, Clip: res1080, PerCamera: 10},
	{Name: "8x360p-1v", About: "8 cameras 360p30 1 Mbit/s, 1 viewer each", Cameras: 8, Clip: res360, PerCamera: 1},
	{Name: "1080p-10v-defbuf", About: "1 camera 1080p30 4 Mbit/s, 10 viewers with the kernel's default UDP receive buffer", Cameras: 1, Clip: res1080, PerCamera: 10, KernelBuffer: true},
	{Name: "16x720p-2v", About: "16 cameras 720p30 2.5 Mbit/s, 2 viewers each", Cameras: 16, Clip: res720, PerCamera: 2},
	{Name: "8x360p-idle", About: "8 cameras 360p30 1 Mbit/s pulled, no viewer", Cameras: 8, Clip: res360},
	{Name: "churn", About: "1 camera 720p30, 4 viewers, one leaves and one joins every second", Cameras: 1, Clip: res720, PerCamera: 4, Churn: true},
	{Name: "jpeg", About: "1 camera 1080p30, JPEG fallback at default settings (5 fps, max width 1280)", Cameras: 1, Clip: res1080, JPEG: true},
	{Name: "jpeg-kf", About: "1 camera 1080p30, JPEG fallback with keyframes_only", Cameras: 1, Clip: res1080, JPEG: true, KeyframesOnly: true},
	{Name: "frames", About: "1 camera 1080p30, 1 model reading bgr24 640 px 5 fps, then MJPEG at the same size and rate", Cameras: 1, Clip: res1080, Frames: true},
	{Name: "8x720p-frames", About: "8 cameras 720p30 2.5 Mbit/s, 1 model reader each (bgr24 640 px 5 fps), then MJPEG", Cameras: 8, Clip: res720, Frames: true},
	{Name: "detections", About: "8 cameras 360p30, a model on each posting 10 messages of 20 objects a second, 1 viewer following them", Cameras: 8, Clip: res360, Detections: true},
}

// stressScenarios are named but not in all: they take the machine's every
// core for a minute, and on a small one measure mostly its limits.
var stressScenarios = []scenario{
	{Name: "6x1080p-50v", About: "6 cameras 1080p30 4 Mbit/s, 50 viewers each, 300 joining at once", Cameras: 6, Clip: res1080, PerCamera: 50},
	{Name: "6x1080p-50v-kf", About: "6 cameras 1080p30 4 Mbit/s, 50 viewers each, 300 joining at once on the cached keyframe alone", Cameras: 6, Clip: res1080, PerCamera: 50, KeyframeStart: true},
}

// scenarioGrammar is how a setup that is not in scenarios is named.
const scenarioGrammar = "[Nx]HEIGHTp[@RATE]-WHAT: N cameras (1-64) of HEIGHT 360, 480, 720 or 1080 " +
	"at RATE (e.g. 1.5M or 800k; default 1M, 1.5M, 2.5M, 4M), WHAT being Mv (M viewers each, 1-50), " +
	"Mv-churn, Mv-defbuf (viewers with the kernel's default UDP receive buffer), Mv-kf (viewers starting on the cached keyframe alone), idle, jpeg or jpeg-kf (one camera), frames (a model reader each, then MJPEG) or " +
	"detections (a model posting 10 messages of 20 objects a second each); e.g. 4x1080p@6M-3v"

// Bounds that keep a mistyped name from starting thousands of processes'
// worth of work.
const (
	maxBenchCameras  = 64
	maxBenchViewers  = 50
	minBenchKbitPerS = 100
	maxBenchKbitPerS = 20000
)

// sizes are the frame sizes a named setup may use, with the bitrate of a
// typical camera's main stream at that size.
var sizes = map[int]clipSpec{
	360:  res360,
	480:  res480,
	720:  res720,
	1080: res1080,
}

var scenarioName = regexp.MustCompile(`^(?:(\d+)x)?(\d+)p(?:@(\d+(?:\.\d+)?)([kKmM]))?-(?:(\d+)v(-churn|-defbuf|-kf)?|(idle)|(jpeg)(-kf)?|(frames)|(detections))$`)

// findScenario returns the named scenario, or builds the setup a name such
// as 4x1080p@6M-3v describes (see scenarioGrammar).
func findScenario(name string) (scenario, error) {
	for _, list := range [][]scenario{scenarios, stressScenarios, gridScenarios, pageScenarios} {
		if i := slices.IndexFunc(list, func(s scenario) bool { return s.Name == name }); i >= 0 {
			return list[i], nil
		}
	}
	m := scenarioName.FindStringSubmatch(name)
	if m == nil {
		return scenario{}, fmt.Errorf("unknown scenario %q; known: %s; or name a setup as %s", name, scenarioNames(), scenarioGrammar)
	}
	sc := scenario{Name: name, Cameras: 1}
	if m[1] != "" {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > maxBenchCameras {
			return scenario{}, fmt.Errorf("scenario %q: %s cameras: want 1 to %d", name, m[1], maxBenchCameras)
		}
		sc.Cameras = n
	}
	h, _ := strconv.Atoi(m[2])
	clip, ok := sizes[h]
	if !ok {
		return scenario{}, fmt.Errorf("scenario %q: %sp: the clips come in 360p, 480p, 720p and 1080p", name, m[2])
	}
	if m[3] != "" {
		f, err := strconv.ParseFloat(m[3], 64)
		if strings.EqualFold(m[4], "m") {
			f *= 1000
		}
		if err != nil || f < minBenchKbitPerS || f > maxBenchKbitPerS {
			return scenario{}, fmt.Errorf("scenario %q: bitrate %s%s: want 100k to 20M", name, m[3], m[4])
		}
		clip.KbitPerSec = int(f)
	}
	sc.Clip = clip
	what := ""
	switch {
	case m[5] != "":
		v, err := strconv.Atoi(m[5])
		if err != nil || v < 1 || v > maxBenchViewers {
			return scenario{}, fmt.Errorf("scenario %q: %s viewers a camera: want 1 to %d (idle for none)", name, m[5], maxBenchViewers)
		}
		sc.PerCamera, sc.Churn, sc.KernelBuffer, sc.KeyframeStart = v, m[6] == "-churn", m[6] == "-defbuf", m[6] == "-kf"
		what = plural(v, "viewer") + " each"
		if sc.Cameras == 1 {
			what = plural(v, "viewer")
		}
		if sc.Churn {
			what += ", one leaves and one joins every second"
		}
		if sc.KernelBuffer {
			what += ", with the kernel's default UDP receive buffer"
		}
		if sc.KeyframeStart {
			what += ", starting on the cached keyframe alone"
		}
	case m[7] != "":
		what = "pulled, no viewer"
	case m[10] != "":
		sc.Frames = true
		what = "1 model reader each (bgr24 640 px 5 fps), then MJPEG"
	case m[11] != "":
		sc.Detections = true
		what = "a model on each posting 10 messages of 20 objects a second"
	default:
		if sc.Cameras != 1 {
			return scenario{}, fmt.Errorf("scenario %q: the JPEG scenarios measure one camera", name)
		}
		sc.JPEG, sc.KeyframesOnly = true, m[9] != ""
		what = "JPEG fallback at default settings (5 fps, max width 1280)"
		if sc.KeyframesOnly {
			what = "JPEG fallback with keyframes_only"
		}
	}
	sc.About = fmt.Sprintf("%s %dp30 %s Mbit/s, %s", plural(sc.Cameras, "camera"), clip.Height,
		strconv.FormatFloat(float64(clip.KbitPerSec)/1000, 'f', -1, 64), what)
	return sc, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func scenarioNames() string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.Name)
	}
	for _, s := range stressScenarios {
		n = append(n, s.Name+" (not in all: every core for a minute)")
	}
	for _, s := range slices.Concat(gridScenarios, pageScenarios) {
		n = append(n, s.Name+" (not in all: root, chromium)")
	}
	return strings.Join(n, ", ")
}
