package whep

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgecam/edgecam/stream"
)

// fuzzRTC is the WebRTC egress shared by all inputs of one fuzzing process:
// binding a UDP port per input would make fuzzing crawl.
var fuzzRTC = sync.OnceValues(func() (*Server, error) {
	return NewServer(Config{UDPPort: 0, Interfaces: []string{"lo"}}, nil)
})

// browserOffer makes a real offer, as a browser would post it: one
// receive-only H.264 video section with all candidates.
func browserOffer(tb testing.TB) string {
	tb.Helper()
	pc := loopbackPeer(tb, nil)
	defer pc.Close()
	return offerOf(tb, pc)
}

// staticOffer is a Chrome-style offer, kept as text so the seed does not
// depend on pion's offer generation.
const staticOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0\r\n" +
	"a=msid-semantic: WMS\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 102 96\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n" +
	"a=ice-ufrag:EsAw\r\n" +
	"a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n" +
	"a=fingerprint:sha-256 0F:74:31:25:CB:A2:13:EC:28:6F:6D:2C:61:FF:5D:C2:BC:B9:DB:3D:98:14:8D:1A:BB:EA:33:0C:A4:60:A8:8E\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=recvonly\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:102 H264/90000\r\n" +
	"a=rtcp-fb:102 nack\r\n" +
	"a=rtcp-fb:102 nack pli\r\n" +
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" +
	"a=rtpmap:96 VP8/90000\r\n"

// FuzzWebRTCOffer posts arbitrary offers to the WHEP answerer. It must never
// panic, must answer or refuse within a few seconds, must answer only with
// the H.264 it sends (packetization-mode=1: an offer with only mode 0 is
// refused), and every session it opens must go away again when closed.
func FuzzWebRTCOffer(f *testing.F) {
	f.Add(browserOffer(f))
	f.Add(staticOffer)
	f.Add("m=video")
	f.Add("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\n")
	f.Add(staticOffer[:len(staticOffer)/2])
	// Only packetization-mode=0, which the relay cannot serve.
	f.Add(strings.ReplaceAll(staticOffer, "packetization-mode=1", "packetization-mode=0"))
	// No ICE credentials, no fingerprint.
	f.Add(strings.NewReplacer("a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n", "", "a=fingerprint:sha-256", "a=x:").Replace(staticOffer))
	// Two video sections.
	f.Add(staticOffer + "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:1\r\na=rtpmap:102 H264/90000\r\n")

	f.Fuzz(func(t *testing.T, offer string) {
		w, err := fuzzRTC()
		if err != nil {
			t.Fatal(err)
		}
		// Offer, pion and closing must all be done well within this; a
		// hang anywhere is reported with every goroutine's stack, since
		// the fuzzer itself would only stall.
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 8<<20)
			buf = buf[:runtime.Stack(buf, true)]
			panic(fmt.Sprintf("offer %q still being handled after 10s:\n%s", offer, buf))
		})
		defer watchdog.Stop()
		st := stream.New("fuzz", stream.Options{})
		defer st.Close()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		answer, id, err := w.Offer(ctx, st, offer)
		if took := time.Since(start); took > 4*time.Second {
			t.Fatalf("Offer took %s", took)
		}
		if err == nil {
			if !strings.Contains(answer, "packetization-mode=1") {
				_ = w.Close("fuzz", id)
				t.Fatalf("a session was answered without H.264 packetization-mode=1, which is all the server sends:\n%s", answer)
			}
			if err := w.Close("fuzz", id); err != nil {
				t.Fatalf("closing the session just opened: %v", err)
			}
		} else if errors.Is(err, ErrTooManySessions) {
			t.Fatalf("sessions leaked: %v", err)
		}
		if n := w.Sessions(); n != 0 {
			t.Fatalf("%d sessions open after closing everything", n)
		}
		if n := st.Readers(); n != 0 {
			t.Fatalf("%d stream readers left after closing everything", n)
		}
	})
}
