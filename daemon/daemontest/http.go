package daemontest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// requestTimeout bounds every request the helpers make, its body included.
const requestTimeout = 10 * time.Second

// Client is the HTTP client of the helpers and of tests that make their own
// requests: no request, its body included, takes longer than
// requestTimeout, so a server that never answers or never ends a body fails
// the test instead of hanging it.
func Client() *http.Client { return &http.Client{Timeout: requestTimeout} }

// Get fetches a URL, failing the test if it cannot; it returns the status
// and the body.
func Get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, req)
}

// Do sends req and reads the whole answer within requestTimeout, failing the
// test if it cannot; it returns the status and the body. A body that never
// ends (a stream asked for by mistake, a framing the server forgot to end)
// fails the test instead of hanging it.
func Do(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body within %s: %v", req.Method, req.URL, requestTimeout, err)
	}
	return resp.StatusCode, body
}

// Open starts a GET of a body that does not end (MJPEG, server-sent
// events) and returns the response. Every read of its body fails once
// timeout has passed since Open, so a test that waits for data that never
// comes fails with the read's error instead of hanging; the body is closed
// when the test ends.
func Open(t testing.TB, url string, timeout time.Duration) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	return resp
}

// WHEPOffer is an offer as a browser posts it to WHEP: one receive-only
// video section with H.264 (packetization-mode=1) and n host candidates.
func WHEPOffer(n int) string {
	var cands strings.Builder
	for i := range n {
		fmt.Fprintf(&cands, "a=candidate:%d 1 udp 2130706431 127.0.0.%d %d typ host\r\n", i+1, i%250+1, 40000+i)
	}
	return "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" + cands.String() +
		"a=ice-ufrag:EsAw\r\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n" +
		"a=fingerprint:sha-256 0F:74:31:25:CB:A2:13:EC:28:6F:6D:2C:61:FF:5D:C2:BC:B9:DB:3D:98:14:8D:1A:BB:EA:33:0C:A4:60:A8:8E\r\n" +
		"a=setup:actpass\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:102 H264/90000\r\n" +
		"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
}
