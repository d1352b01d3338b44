package whep

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/stream"
)

func TestViewerThatNeverConnectsIsDropped(t *testing.T) {
	w, ctx := startWebRTC(t, Config{UDPPort: 0, Interfaces: []string{"lo"}, ConnectTimeout: time.Second}, nil)

	st := stream.New("cam", stream.Options{})
	// The offer's peer is gone before the answer: it will never do ICE.
	if _, _, err := w.Offer(ctx, st, browserOffer(t)); err != nil {
		t.Fatal(err)
	}
	if w.Sessions() != 1 || st.Viewers() != 1 {
		t.Fatalf("sessions %d viewers %d after the offer", w.Sessions(), st.Viewers())
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (w.Sessions() != 0 || st.Readers() != 0) {
		time.Sleep(50 * time.Millisecond)
	}
	if w.Sessions() != 0 || st.Readers() != 0 {
		t.Fatalf("a session that never connected is still there: sessions %d readers %d", w.Sessions(), st.Readers())
	}
}

// Sessions share one DTLS certificate (a join then costs no key generation),
// and one about to expire is replaced before pion would refuse it.
func TestSessionsShareACertificateThatIsRenewedBeforeItExpires(t *testing.T) {
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
	st := stream.New("cam", stream.Options{})
	defer st.Close()
	fingerprint := func() string {
		answer, id, err := w.Offer(ctx, st, browserOffer(t))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close("cam", id)
		for _, line := range strings.Split(answer, "\r\n") {
			if strings.HasPrefix(line, "a=fingerprint:") {
				return line
			}
		}
		t.Fatal("answer without a DTLS fingerprint")
		return ""
	}
	first := fingerprint()
	if second := fingerprint(); second != first {
		t.Fatalf("two sessions have different certificates: %s, %s", first, second)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	soon, err := webrtc.NewCertificate(key, x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.certMu.Lock()
	w.cert = soon
	w.certMu.Unlock()
	if renewed := fingerprint(); renewed == first {
		t.Fatal("a certificate expiring in a day was not replaced")
	}
	w.certMu.Lock()
	defer w.certMu.Unlock()
	if w.cert == soon || time.Until(w.cert.Expires()) < 7*24*time.Hour {
		t.Fatalf("certificate expires %v", w.cert.Expires())
	}
}

// directSessions counts the sessions that the camera's goroutine sends to
// itself.
func directSessions(w *Server) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.sessions {
		if s.direct.Load() {
			n++
		}
	}
	return n
}

// A viewer that has received its cached GOP is sent live units from the
// camera's goroutine, and its packets run on across the switch: no gap in
// the sequence numbers, every unit's last packet there.
func TestCaughtUpViewerIsSentToDirectlyWithoutAGap(t *testing.T) {
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
	st := stream.New("cam", stream.Options{})
	defer st.Close()
	feed(st, 0, 10, 25, 1) // an IDR and 9 units, cached

	pc := loopbackPeer(t, nil)
	packets := trackPackets(pc, 1024)
	connectPeer(t, ctx, w, st, pc)

	deadline := time.Now().Add(10 * time.Second)
	for directSessions(w) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the session never took live units directly")
		}
		time.Sleep(10 * time.Millisecond)
	}
	feed(st, 10, 20, 25, 1) // 20 live units, one an IDR

	var last uint16
	units := 0
	for n := 0; units < 30; n++ {
		select {
		case p := <-packets:
			if n > 0 && p.SequenceNumber != last+1 {
				t.Fatalf("packet %d has sequence number %d after %d", n, p.SequenceNumber, last)
			}
			last = p.SequenceNumber
			if p.Marker {
				units++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of 30 units arrived", units)
		}
	}
}
