package whep

import (
	"net/netip"
	"strings"
)

// OfferOption adjusts one answer.
type OfferOption func(*offerOptions)

type offerOptions struct {
	reachedAt netip.Addr
	start     Start
}

// ReachedAt says the viewer reached the server at ip (the local address of
// its HTTP connection): the answer then names only the candidates on that
// address, and the configured Hosts, so the browser checks one path
// instead of one per interface of the box and address of its own. A
// sixteen-camera wall has sixteen sessions checking at once, and the
// browser paces its checks. An address none of the candidates has
// changes nothing.
func ReachedAt(ip netip.Addr) OfferOption {
	return func(o *offerOptions) { o.reachedAt = ip.Unmap() }
}

// keepCandidates returns sdp without the host candidates whose address is
// neither at nor one of keep, unless that would leave none.
func keepCandidates(sdp string, at netip.Addr, keep []string) string {
	if !at.IsValid() {
		return sdp
	}
	var out strings.Builder
	out.Grow(len(sdp))
	kept, dropped := 0, 0
	for line := range strings.Lines(sdp) {
		if addr, ok := candidateAddr(line); ok {
			if a, err := netip.ParseAddr(addr); err == nil && a.Unmap() != at && !contains(keep, addr) {
				dropped++
				continue
			}
			kept++
		}
		out.WriteString(line)
	}
	if kept == 0 || dropped == 0 {
		return sdp
	}
	return out.String()
}

// candidateAddr returns the connection address of an a=candidate line:
// a=candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE.
func candidateAddr(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "a=candidate:")
	if !ok {
		return "", false
	}
	f := strings.Fields(rest)
	if len(f) < 8 {
		return "", false
	}
	return f[4], true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
