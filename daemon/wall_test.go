package daemon_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// cameraList reads GET /api/cameras.
func cameraList(t *testing.T, r *reloadable) api.CameraList {
	t.Helper()
	_, body := daemontest.Get(t, r.URL+"/api/cameras")
	var l api.CameraList
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("GET /api/cameras: not a camera list: %v\n%s", err, body)
	}
	return l
}

func TestReloadRetitlesAndRegroupsWithoutRestartingCameras(t *testing.T) {
	a := daemontest.StartCamera(t, testcamera.Options{})
	b := daemontest.StartCamera(t, testcamera.Options{})
	base := reloadConfig("press-1", a.URL(), "dock-gate", b.URL())
	r := startReloadable(t, base)
	r.WaitState(t, "press-1", "streaming", 10*time.Second)
	before := r.Running(t, "press-1")
	if l := cameraList(t, r); l.Cameras[0].Title != "" || len(l.Groups) != 0 || l.Groups == nil {
		t.Fatalf("without titles and groups the list has title %q and groups %#v; want none, as []", l.Cameras[0].Title, l.Groups)
	}

	titled := strings.Replace(base, "  - name: press-1\n", "  - name: press-1\n    title: Press 1 (north)\n", 1) +
		"groups:\n  - name: line-1\n    title: Line 1\n    cameras: [dock-gate, press-1]\n  - name: yard\n    cameras: [dock-gate]\n"
	r.apply(t, titled)
	l := cameraList(t, r)
	if l.Cameras[0].Name != "press-1" || l.Cameras[0].Title != "Press 1 (north)" {
		t.Errorf("cameras[0] = %s titled %q, want press-1 titled \"Press 1 (north)\"", l.Cameras[0].Name, l.Cameras[0].Title)
	}
	if got := r.Camera(t, "press-1").Title; got != "Press 1 (north)" {
		t.Errorf("GET /api/cameras/press-1: title %q", got)
	}
	want := []api.Group{{Name: "line-1", Title: "Line 1", Cameras: []string{"dock-gate", "press-1"}}, {Name: "yard", Title: "yard", Cameras: []string{"dock-gate"}}}
	if !slices.EqualFunc(l.Groups, want, func(x, y api.Group) bool {
		return x.Name == y.Name && x.Title == y.Title && slices.Equal(x.Cameras, y.Cameras)
	}) {
		t.Errorf("groups = %+v, want %+v (a group without title shows its name)", l.Groups, want)
	}
	if r.Running(t, "press-1") != before {
		t.Error("a reload that only retitled press-1 restarted it")
	}
}
