package api_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// An offline camera says why as a code, since when, when it tries again
// and where it is dialled (without the password), in the camera list and
// on the events stream; Retry now makes it try again at once.
func TestOfflineCameraSaysWhyAndRetriesOnRequest(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", "rtsp://admin:Xy7-secret@"+addr+"/stream"))
	c := d.WaitState(t, "press-1", "retrying", 10*time.Second)
	if c.Reason != "refused" || c.Address != addr || c.DownSince == nil || c.NextRetry == nil {
		t.Errorf("offline camera: reason %q address %q down_since %v next_retry %v; want refused, %s and both times",
			c.Reason, c.Address, c.DownSince, c.NextRetry, addr)
	}
	var list api.CameraList
	readEvents(t, d.URL+"/api/events", 5*time.Second, func(name, data string) bool {
		return name == "cameras" && json.Unmarshal([]byte(data), &list) == nil
	})
	if len(list.Cameras) != 1 || list.Cameras[0].Reason != "refused" || list.Time.IsZero() {
		t.Errorf("the events stream's camera list lacks the reason or the time: %+v", list)
	}

	post := func(origin string) (int, string) {
		req, _ := http.NewRequest("POST", d.URL+"/api/cameras/press-1/retry", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := post("http://evil.example"); code != http.StatusForbidden {
		t.Errorf("a cross-site retry got %d %q, want 403", code, body)
	}

	daemontest.StartCamera(t, testcamera.Options{Addr: addr})
	if code, body := post(""); code != http.StatusNoContent {
		t.Fatalf("retry got %d %q, want 204", code, body)
	}
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	if c := d.Camera(t, "press-1"); c.Reason != "" || c.DownSince != nil || c.NextRetry != nil {
		t.Errorf("a streaming camera reports reason %q down_since %v next_retry %v", c.Reason, c.DownSince, c.NextRetry)
	}
	if code, body := post(""); code != http.StatusConflict || !strings.Contains(body, "press-1") {
		t.Errorf("retrying a streaming camera got %d %q, want 409 naming it", code, body)
	}
}
