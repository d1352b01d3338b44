package cameras_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

func TestUnreachableCameraRetriesWithoutAffectingOthers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	good := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil,
		daemontest.Camera("dead", "rtsp://admin:hunter2@"+dead+"/stream"),
		daemontest.Camera("good", good.URL()),
	)
	c := d.WaitState(t, "dead", "retrying", 10*time.Second)
	if !strings.Contains(c.Error, "refused") {
		t.Errorf("error %q does not say the connection was refused", c.Error)
	}
	d.WaitState(t, "good", "streaming", 10*time.Second)
	v := d.Dial(t, "good")
	daemontest.NextUnit(t, v, 5*time.Second)

	resp, err := daemontest.Client().Get(d.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestOnDemandCameraPulledOnlyWhileWatched(t *testing.T) {
	c := daemontest.StartCamera(t, testcamera.Options{})
	od := daemontest.Camera("yard", c.URL())
	od.OnDemand = true
	d := daemontest.Start(t, nil, od)
	time.Sleep(500 * time.Millisecond)
	if n := c.SessionCount(); n != 0 {
		t.Fatalf("on-demand camera has %d RTSP sessions with no viewer", n)
	}
	if s := d.Camera(t, "yard").State; s != "idle" {
		t.Fatalf("state %q, want idle", s)
	}
	v := d.Dial(t, "yard")
	au := daemontest.NextUnit(t, v, 10*time.Second)
	if !h264.IsRandomAccess(au.NALUs) {
		t.Fatalf("first unit is not an IDR: %v", daemontest.NALUTypes(au.NALUs))
	}
	v.Close()
	daemontest.WaitFor(t, 10*time.Second, "camera released after the last viewer left", func() bool {
		return c.SessionCount() == 0 && d.Camera(t, "yard").State == "idle"
	})
}

func TestStalledCameraIsReconnected(t *testing.T) {
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	v := d.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 5*time.Second)

	c.Pause() // the RTSP session stays open, no media flows
	got := d.WaitState(t, "press-1", "retrying", 15*time.Second)
	if got.Error == "" {
		t.Error("a stalled camera shows no error")
	}
	c.Resume()
	d.WaitState(t, "press-1", "streaming", 15*time.Second)
	// The open viewer resumes by itself.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case au := <-v.Units():
			if h264.IsRandomAccess(au.NALUs) && au.Received.After(time.Now().Add(-time.Second)) {
				return
			}
		case <-deadline:
			t.Fatal("viewer did not resume after the stalled camera came back")
		}
	}
}
