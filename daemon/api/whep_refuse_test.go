package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/daemontest"
)

// An offer the viewer could not play from gets a 4xx that says why, and
// leaves no WebRTC session and no viewer behind: 406 when the offer lacks
// the camera's codec in a form the relay sends (the page then plays the
// camera over JPEG), 400 when it is not a usable offer at all.
func TestWHEPOfferThatCannotPlayIsRefusedWithNothingLeft(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	offer := daemontest.WHEPOffer(2)
	for _, tc := range []struct {
		name, offer string
		want        int
		says        string
	}{
		// FU-A packets, which every 1080p IDR needs, are not allowed in
		// packetization-mode=0: the browser would show a black tile.
		{"only packetization-mode=0", strings.ReplaceAll(offer, "packetization-mode=1", "packetization-mode=0"),
			http.StatusNotAcceptable, "packetization-mode=1"},
		{"no H.264", strings.ReplaceAll(offer, "H264/90000", "VP8/90000"), http.StatusNotAcceptable, "H264"},
		{"no video section", strings.ReplaceAll(offer, "m=video", "m=audio"), http.StatusBadRequest, "no video media section"},
		{"too many candidates", daemontest.WHEPOffer(33), http.StatusBadRequest, "33 candidates"},
		{"not SDP", "m=video \x00\xff garbage", http.StatusBadRequest, "bad offer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, d.URL+"/cameras/press-1/whep", strings.NewReader(tc.offer))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/sdp")
			code, body := daemontest.Do(t, req)
			if code != tc.want || !strings.Contains(string(body), tc.says) {
				t.Fatalf("%d %q, want %d saying %q", code, body, tc.want, tc.says)
			}
			if n, v := d.WebRTCSessions(), d.Camera(t, "press-1").Viewers; n != 0 || v != 0 {
				t.Fatalf("after the refusal: %d WebRTC sessions, %d viewers, want none", n, v)
			}
		})
	}
	// A browser's offer is still answered.
	req, _ := http.NewRequest(http.MethodPost, d.URL+"/cameras/press-1/whep", strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	if code, body := daemontest.Do(t, req); code != http.StatusCreated {
		t.Fatalf("a browser's offer after the refusals: %d %q", code, body)
	}
}
