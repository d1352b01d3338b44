//go:build fault

package fault

// Camera faults, each against the real RTSP test camera on loopback, with a
// second camera and its viewer running throughout to show that one camera's
// trouble never reaches another, and a goroutine-leak check at the end.

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/lowres"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

func TestFaultCameraKilledAndBackRecoversAndLeavesOthersUntouched(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := daemontest.StartCamera(t, testcamera.Options{})
	addr := victim.Addr()
	s := startFaultSetup(t, victim.URL())

	victim.Close()
	s.d.WaitState(t, "victim", "retrying", 5*time.Second)
	requireHealthy(t, s.d)

	back := time.Now()
	daemontest.StartCamera(t, testcamera.Options{Addr: addr})
	// Within the backoff window: the first retry comes after about 1 s.
	s.d.WaitState(t, "victim", "streaming", 5*time.Second)
	s.victimResumes(t, back, 5*time.Second)
	if got := s.d.Camera(t, "victim").Reconnects; got < 1 {
		t.Errorf("victim shows %d reconnects, want at least 1", got)
	}
	s.finish(t)
}

func TestFaultHungCameraProcessRecoversAndLeavesOthersUntouched(t *testing.T) {
	checkGoroutinesReturn(t)
	proc, u := startCameraProcess(t)
	s := startFaultSetup(t, u)

	// SIGSTOP: the kernel keeps the TCP connection open, and nothing comes.
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// The read timeout is 2 s in these tests.
	got := s.d.WaitState(t, "victim", "retrying", 8*time.Second)
	t.Logf("hung camera noticed after %s: %s", time.Since(stopped).Round(time.Millisecond), got.Error)
	requireHealthy(t, s.d)

	if err := proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	thawed := time.Now()
	// Backoff so far at most 1 s + 2 s (+20 %), plus one attempt stuck on the
	// frozen camera timing out.
	s.d.WaitState(t, "victim", "streaming", 10*time.Second)
	t.Logf("recovered %s after SIGCONT", time.Since(thawed).Round(time.Millisecond))
	s.victimResumes(t, thawed, 5*time.Second)
	s.finish(t)
}

func TestFaultResolutionChangeReachesAPIAndViewer(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := daemontest.StartCamera(t, testcamera.Options{})
	s := startFaultSetup(t, victim.URL())

	for _, size := range []struct {
		clip []byte // nil: the camera's own
		w, h int
	}{
		{lowres.Clip(), lowres.Width, lowres.Height},
		{nil, testcamera.Width, testcamera.Height},
	} {
		switched := time.Now()
		if err := victim.SetClip(size.clip); err != nil {
			t.Fatal(err)
		}
		daemontest.WaitFor(t, 5*time.Second, "the API to show the new resolution", func() bool {
			c := s.d.Camera(t, "victim")
			return c.Width == size.w && c.Height == size.h
		})
		au := s.victimResumes(t, switched, 5*time.Second)
		var sps h264.SPS
		if len(au.NALUs) == 0 || h264.NALUType(au.NALUs[0][0]&0x1f) != h264.NALUTypeSPS {
			t.Fatalf("IDR after the switch has NALU types %v, want SPS first", daemontest.NALUTypes(au.NALUs))
		}
		if err := sps.Unmarshal(au.NALUs[0]); err != nil {
			t.Fatal(err)
		}
		if sps.Width() != size.w || sps.Height() != size.h {
			t.Fatalf("viewer's SPS says %dx%d, want %dx%d", sps.Width(), sps.Height(), size.w, size.h)
		}
	}
	if c := s.d.Camera(t, "victim"); c.State != "streaming" || c.Reconnects != 0 {
		t.Errorf("victim is %s with %d reconnects after resolution changes, want streaming without reconnecting", c.State, c.Reconnects)
	}
	s.finish(t)
}

func TestFaultGarbageAndTruncatedRTPKeepCameraStreaming(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := daemontest.StartCamera(t, testcamera.Options{})
	s := startFaultSetup(t, victim.URL())

	for _, fault := range []struct {
		name      string
		on, off   func()
		wantInLog string
	}{
		{"garbage payloads", func() { victim.SetGarbageEvery(4) }, func() { victim.SetGarbageEvery(0) }, "frames dropped (broken packets)"},
		{"truncated NAL units", func() { victim.SetTruncateEvery(3) }, func() { victim.SetTruncateEvery(0) }, "frames dropped (broken packets)"},
	} {
		fault.on()
		// The victim's viewer keeps getting whatever survives.
		got := 0
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
			daemontest.NextUnit(t, s.victim, 2*time.Second)
			got++
		}
		fault.off()
		if got < testcamera.FPS/2 {
			t.Errorf("%s: the victim's viewer got %d frames in 2s, want at least %d", fault.name, got, testcamera.FPS/2)
		}
		healed := time.Now()
		s.victimResumes(t, healed, 5*time.Second)
		if c := s.d.Camera(t, "victim"); c.State != "streaming" {
			t.Errorf("%s: victim is %s (%s), want streaming", fault.name, c.State, c.Error)
		}
		if !strings.Contains(s.d.Logs.String(), fault.wantInLog) {
			t.Errorf("%s: the log does not say %q", fault.name, fault.wantInLog)
		}
		requireHealthy(t, s.d)
	}
	c := s.d.Camera(t, "victim")
	if c.Width != testcamera.Width || c.Height != testcamera.Height {
		t.Errorf("victim shows %dx%d after the garbage, want %dx%d", c.Width, c.Height, testcamera.Width, testcamera.Height)
	}
	s.finish(t)
}

func TestFaultPacketLossAndJitterKeepCameraStreaming(t *testing.T) {
	checkGoroutinesReturn(t)
	victim := daemontest.StartCamera(t, testcamera.Options{})
	s := startFaultSetup(t, victim.URL())

	victim.SetDropEvery(15)
	victim.SetJitter(30 * time.Millisecond)
	got := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		daemontest.NextUnit(t, s.victim, 2*time.Second)
		got++
	}
	victim.SetDropEvery(0)
	victim.SetJitter(0)
	if got < testcamera.FPS {
		t.Errorf("the victim's viewer got %d frames in 3s of loss and jitter, want at least %d", got, testcamera.FPS)
	}
	s.victimResumes(t, time.Now(), 5*time.Second)
	if c := s.d.Camera(t, "victim"); c.State != "streaming" || c.Reconnects != 0 {
		t.Errorf("victim is %s with %d reconnects, want streaming without reconnecting", c.State, c.Reconnects)
	}
	if !strings.Contains(s.d.Logs.String(), "rtp packets lost") {
		t.Error(`the log does not say "rtp packets lost"`)
	}
	s.finish(t)
}
