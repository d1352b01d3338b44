package api_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/daemontest"
	"github.com/edgecam/edgecam/stream/whepclient"
)

func TestViewerReceivesCameraH264OverWHEP(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts testcamera.Options
	}{
		{"params in SDP and in-band", testcamera.Options{}},
		{"params only in-band", testcamera.Options{InBandOnly: true}},
		{"params only in SDP", testcamera.Options{NoInBandParams: true}},
		{"with digest or basic credentials", testcamera.Options{User: "admin", Pass: "s3cret!x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own camera and daemon
			c := daemontest.StartCamera(t, tc.opts)
			d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
			d.WaitState(t, "press-1", "streaming", 10*time.Second)

			posted := time.Now()
			v := d.Dial(t, "press-1")
			first := daemontest.NextUnit(t, v, 10*time.Second)
			t.Logf("first picture %s after the WHEP POST", time.Since(posted).Round(time.Millisecond))

			types := daemontest.NALUTypes(first.NALUs)
			if len(types) < 3 || types[0] != h264.NALUTypeSPS || types[1] != h264.NALUTypePPS || !h264.IsRandomAccess(first.NALUs) {
				t.Fatalf("first access unit has NALU types %v, want SPS, PPS, IDR", types)
			}
			var sps h264.SPS
			if err := sps.Unmarshal(first.NALUs[0]); err != nil {
				t.Fatal(err)
			}
			if sps.Width() != testcamera.Width || sps.Height() != testcamera.Height {
				t.Fatalf("SPS says %dx%d, want %dx%d", sps.Width(), sps.Height(), testcamera.Width, testcamera.Height)
			}

			// Live frames at the camera's rate, with increasing timestamps,
			// once the cached GOP burst is through.
			prev := first.TS
			deadline := time.Now().Add(5 * time.Second)
			var live []whepclient.AccessUnit
			for time.Now().Before(deadline) && len(live) < 2*testcamera.FPS {
				au := daemontest.NextUnit(t, v, 3*time.Second)
				if int32(au.TS-prev) <= 0 {
					t.Fatalf("timestamp went from %d to %d", prev, au.TS)
				}
				prev = au.TS
				if time.Since(au.Received) < 0 || au.Received.Sub(posted) > 500*time.Millisecond {
					live = append(live, au)
				}
			}
			if len(live) < testcamera.FPS {
				t.Fatalf("received %d live frames in 5s, want at least %d", len(live), testcamera.FPS)
			}
			span := time.Duration(live[len(live)-1].TS-live[0].TS) * time.Second / 90000
			fps := float64(len(live)-1) / span.Seconds()
			if fps < 20 || fps > 30 {
				t.Fatalf("live frames at %.1f fps by their timestamps, want about %d", fps, testcamera.FPS)
			}
			if got := d.Camera(t, "press-1").Viewers; got != 1 {
				t.Fatalf("API says %d viewers, want 1", got)
			}
		})
	}
}

func TestMalformedWHEPRequestsGet4xx(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	audioOnly := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	for _, tc := range []struct {
		name, method, path, ctype, body string
		want                            int
	}{
		{"unknown camera", "POST", "/cameras/nope/whep", "application/sdp", "v=0", 404},
		{"wrong content type", "POST", "/cameras/press-1/whep", "text/plain", "v=0", 415},
		{"empty offer", "POST", "/cameras/press-1/whep", "application/sdp", "", 400},
		{"unknown start", "POST", "/cameras/press-1/whep?start=now", "application/sdp", "v=0", 400},
		{"garbage offer", "POST", "/cameras/press-1/whep", "application/sdp", "m=video \x00\xff garbage", 400},
		{"offer without video", "POST", "/cameras/press-1/whep", "application/sdp", audioOnly, 400},
		{"oversized offer", "POST", "/cameras/press-1/whep", "application/sdp", "m=video " + strings.Repeat("a", 200<<10), 413},
		{"delete unknown session", "DELETE", "/cameras/press-1/whep/abc", "", "", 404},
		{"trickle not supported", "PATCH", "/cameras/press-1/whep/abc", "application/trickle-ice-sdpfrag", "a=x", 405},
		{"get on whep", "GET", "/cameras/press-1/whep", "", "", 405},
		{"unknown api camera", "GET", "/api/cameras/%2e%2e", "", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, d.URL+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := daemontest.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, strings.TrimSpace(string(b)), tc.want)
			}
		})
	}
	// The daemon still serves viewers afterwards.
	v := d.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 10*time.Second)
}

func TestWHEPOptionsAndDeleteEndSession(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	req, _ := http.NewRequest(http.MethodOptions, d.URL+"/cameras/press-1/whep", nil)
	resp, err := daemontest.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}

	v := d.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 10*time.Second)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	daemontest.WaitFor(t, 5*time.Second, "viewer count back to 0 after DELETE", func() bool {
		return d.Camera(t, "press-1").Viewers == 0 && d.WebRTCSessions() == 0
	})
}

func TestVanishedViewerIsRemoved(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, nil, daemontest.Camera("press-1", c.URL()))
	v := d.Dial(t, "press-1")
	daemontest.NextUnit(t, v, 10*time.Second)
	v.Abandon()
	daemontest.WaitFor(t, 15*time.Second, "session of a vanished viewer removed", func() bool {
		return d.WebRTCSessions() == 0 && d.Camera(t, "press-1").Viewers == 0
	})
}

func TestAnswerAnnouncesConfiguredHosts(t *testing.T) {
	t.Parallel()
	c := daemontest.StartCamera(t, testcamera.Options{})
	d := daemontest.Start(t, func(cfg *config.Config) { cfg.WebRTC.Hosts = []string{"192.0.2.77"} }, daemontest.Camera("press-1", c.URL()))
	v := d.Dial(t, "press-1")
	port := d.WebRTCAddrs()[0].(*net.UDPAddr).Port
	want := fmt.Sprintf("192.0.2.77 %d typ host", port)
	if !strings.Contains(v.Answer(), want) {
		t.Fatalf("answer lacks candidate %q:\n%s", want, v.Answer())
	}
	if !strings.Contains(v.Answer(), fmt.Sprintf("127.0.0.1 %d typ host", port)) {
		t.Fatalf("answer lacks the loopback candidate on the media port:\n%s", v.Answer())
	}
}
