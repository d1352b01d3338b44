package api_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whep/wheptest"
)

// wallPeer is a browser's wall stand-in: one peer connection with a
// receive-only video section per camera (wheptest). Its packets names
// the section of each packet it got.
type wallPeer struct {
	pc      *webrtc.PeerConnection
	packets chan string
}

func newWallPeer(t *testing.T, sections int) *wallPeer {
	t.Helper()
	pc := wheptest.Viewer(t, wheptest.LoopbackAPI(t, nil), sections)
	p := &wallPeer{pc: pc, packets: make(chan string, 8192)}
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		mid := wheptest.Mid(pc, r)
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			select {
			case p.packets <- mid:
			default:
			}
		}
	})
	return p
}

// offer makes the peer's offer with its candidates, as a browser posts it.
func (p *wallPeer) offer(t *testing.T) string {
	t.Helper()
	return wheptest.Offer(t, p.pc)
}

// waitMids reads packets until each of mids has had some.
func (p *wallPeer) waitMids(t *testing.T, mids ...string) {
	t.Helper()
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < len(mids) {
		select {
		case mid := <-p.packets:
			for _, m := range mids {
				if m == mid {
					seen[m] = true
				}
			}
		case <-deadline:
			t.Fatalf("after 10 s, packets on sections %v of %v", seen, mids)
		}
	}
}

func postOffer(t *testing.T, url, offer string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(offer))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := daemontest.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// A wall posts one offer for all its cameras: each camera plays on its
// own section of one peer connection, each has a session of its own that
// a DELETE ends alone, and the viewer counts are per camera as ever.
func TestWallPlaysItsCamerasInOnePeerConnection(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()), daemontest.Camera("press-2", c.URL()),
		daemontest.SubCamera(t, "gate"))
	for _, name := range []string{"press-1", "press-2", "gate"} {
		d.WaitState(t, name, "streaming", 10*time.Second)
	}

	p := newWallPeer(t, 3)
	resp, answer := postOffer(t, d.URL+"/whep?camera=press-1&camera=press-2&camera=gate&stream=main&stream=main&stream=sub&start=keyframe", p.offer(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, answer)
	}
	urls := strings.Split(resp.Header.Get("Edgecam-Sessions"), ", ")
	if len(urls) != 3 || !strings.HasPrefix(urls[0], "/cameras/press-1/whep/") || !strings.HasPrefix(urls[2], "/cameras/gate/whep/") {
		t.Fatalf("Edgecam-Sessions: %q", resp.Header.Get("Edgecam-Sessions"))
	}
	// What the answer cost the box, for a browser's resource timing.
	if st := resp.Header.Get("Server-Timing"); !regexp.MustCompile(`^answer;dur=\d+\.\d$`).MatchString(st) {
		t.Errorf("Server-Timing: %q, want answer;dur=<ms>", st)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	p.waitMids(t, "0", "1", "2")
	if n := d.WebRTCSessions(); n != 3 {
		t.Fatalf("%d WebRTC sessions, want 3", n)
	}
	if v := d.Camera(t, "gate").Sub.Viewers; v != 1 {
		t.Fatalf("gate's sub-stream has %d viewers, want 1", v)
	}

	req, _ := http.NewRequest(http.MethodDelete, d.URL+urls[1], nil)
	if code, body := daemontest.Do(t, req); code != http.StatusOK {
		t.Fatalf("DELETE %s: %d %s", urls[1], code, body)
	}
	daemontest.WaitFor(t, 5*time.Second, "press-2's session ended alone", func() bool {
		return d.Camera(t, "press-2").Viewers == 0 && d.WebRTCSessions() == 2
	})
	for len(p.packets) > 0 {
		<-p.packets
	}
	p.waitMids(t, "0", "2")

	_ = p.pc.Close()
	daemontest.WaitFor(t, 15*time.Second, "every session ended with the viewer's peer connection", func() bool {
		return d.WebRTCSessions() == 0 && d.Camera(t, "press-1").Viewers == 0
	})
}

func TestMalformedWallOffersGet4xx(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()), daemontest.Camera("press-2", c.URL()))
	d.WaitState(t, "press-1", "streaming", 10*time.Second)
	two := daemontest.WHEPOffer(2) // one video section
	for _, tc := range []struct {
		name, query string
		want        int
		says        string
	}{
		{"no camera", "", 400, "?camera="},
		{"unknown camera", "?camera=press-1&camera=nope", 404, "nope"},
		{"no sub-stream", "?camera=press-1&stream=sub", 404, "no sub stream"},
		{"streams not one per camera", "?camera=press-1&camera=press-2&stream=main&stream=main&stream=main", 400, "3 streams for 2 cameras"},
		{"bad stream", "?camera=press-1&stream=hd", 400, "hd"},
		{"unknown start", "?camera=press-1&start=now", 400, "start"},
		{"fewer sections than cameras", "?camera=press-1&camera=press-2", 400, "1 video sections for 2 streams"},
		{"too many cameras", "?" + strings.Repeat("camera=press-1&", 65), 400, "65 cameras"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postOffer(t, d.URL+"/whep"+tc.query, two)
			if resp.StatusCode != tc.want || !strings.Contains(body, tc.says) {
				t.Fatalf("%d %q, want %d saying %q", resp.StatusCode, body, tc.want, tc.says)
			}
			if n, v := d.WebRTCSessions(), d.Camera(t, "press-1").Viewers; n != 0 || v != 0 {
				t.Fatalf("after the refusal: %d WebRTC sessions, %d viewers, want none", n, v)
			}
		})
	}
	// One camera by this endpoint is an ordinary session.
	resp, body := postOffer(t, d.URL+"/whep?camera=press-1", two)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Location"), "/cameras/press-1/whep/") {
		t.Fatalf("one camera: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}
