package whep

import (
	"net/netip"
	"strings"
	"testing"
)

// An answer names the candidates on the address the viewer reached the
// server at, and the configured hosts; an address no candidate has, or
// none given, leaves the answer as it is.
func TestAnswerKeepsTheCandidatesOfTheAddressTheViewerReached(t *testing.T) {
	const sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\n" +
		"a=candidate:1 1 udp 2130706431 10.0.0.5 8189 typ host\r\n" +
		"a=candidate:2 1 udp 2130706431 192.168.7.5 8189 typ host\r\n" +
		"a=candidate:3 1 udp 2130706431 127.0.0.1 8189 typ host\r\n" +
		"a=candidate:4 1 udp 2130706431 203.0.113.9 8189 typ host\r\n" +
		"a=end-of-candidates\r\n"
	for _, tc := range []struct {
		name string
		at   string
		keep []string
		want []string // addresses left
	}{
		{"reached on the LAN", "192.168.7.5", nil, []string{"192.168.7.5"}},
		{"reached on the LAN, a 1:1 NAT host", "192.168.7.5", []string{"203.0.113.9"}, []string{"192.168.7.5", "203.0.113.9"}},
		{"reached at an address with no candidate", "10.9.9.9", nil, []string{"10.0.0.5", "192.168.7.5", "127.0.0.1", "203.0.113.9"}},
		{"not known", "", nil, []string{"10.0.0.5", "192.168.7.5", "127.0.0.1", "203.0.113.9"}},
		{"reached over IPv4-mapped IPv6", "::ffff:10.0.0.5", nil, []string{"10.0.0.5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var at netip.Addr
			if tc.at != "" {
				at = netip.MustParseAddr(tc.at).Unmap()
			}
			got := keepCandidates(sdp, at, tc.keep)
			var left []string
			for line := range strings.Lines(got) {
				if a, ok := candidateAddr(line); ok {
					left = append(left, a)
				}
			}
			if strings.Join(left, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("candidates left %v, want %v", left, tc.want)
			}
			if !strings.Contains(got, "a=end-of-candidates") || !strings.HasPrefix(got, "v=0") {
				t.Fatalf("the rest of the answer changed:\n%s", got)
			}
		})
	}
}
