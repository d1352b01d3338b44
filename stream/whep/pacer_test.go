package whep

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
)

// grantsAt runs the pacer's dispatcher once at now and returns the names
// of the turns it granted a slice.
func grantsAt(p *replayPacer, now time.Time, names map[*replayTurn]string) []string {
	p.grant(now)
	var got []string
	for t, name := range names {
		select {
		case <-t.granted:
			got = append(got, name)
		default:
		}
	}
	slices.Sort(got)
	return got
}

// Joiners of the same moment share the budget IDR first: every waiting
// joiner's IDR (unit 0) before anyone's later frames, earlier joiners
// first; a session gets at most one slice every burstPause; and the budget
// refills at the pacer's rate.
func TestPacerSendsEveryJoinersIDRBeforeAnyoneElsesLaterFrames(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// Two slices a millisecond: two joiners are served as one alone would be.
	p := newReplayPacer(2 * burstSlice * 1000)
	names := map[*replayTurn]string{}
	turn := func(name string, unit int) *replayTurn {
		tr := p.join(nil)
		names[tr] = name
		tr.unit = unit
		p.waiting = append(p.waiting, tr)
		return tr
	}
	// a is further into its replay; b, c and d joined later, in that order.
	turn("a", 3)
	b := turn("b", 0)
	c := turn("c", 0)
	d := turn("d", 0)

	ms := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }
	back := func(tr *replayTurn, unit int, sent int, at time.Time) {
		p.settle(tr, sent, at)
		tr.unit = unit
		p.waiting = append(p.waiting, tr)
	}
	// The budget holds what it earns in a millisecond: two slices.
	if got := grantsAt(p, ms(0), names); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("at the start granted %v, want [b c]", got)
	}
	// b and c sent their slices and ask again at once: they wait out
	// their pause, and the next joiner takes the budget as it refills.
	back(b, 0, burstSlice, ms(0))
	back(c, 0, burstSlice, ms(0))
	if got := grantsAt(p, ms(0.5), names); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("half a millisecond in granted %v, want [d]", got)
	}
	back(d, 0, burstSlice, ms(0.5))
	if got := grantsAt(p, ms(1), names); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("a millisecond in granted %v, want [b]: its IDR before c's, as it joined first", got)
	}
	// b's IDR is done: its next slice is of a later unit, after c's and
	// d's IDRs.
	back(b, 1, burstSlice, ms(1))
	if got := grantsAt(p, ms(1.5), names); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("granted %v, want [c]", got)
	}
	back(c, 1, burstSlice, ms(1.5))
	if got := grantsAt(p, ms(2), names); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("granted %v, want [d]", got)
	}
	// A turn that leaves gives back what it reserved and did not send;
	// then the lowest unit goes first: b's 1 before a's 3.
	p.settle(d, 0, ms(2))
	if got := grantsAt(p, ms(2), names); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("granted %v after d left without sending, want [b]", got)
	}
}

// A new viewer's cached GOP leaves in slices the pacer grants; live units
// go out without waiting for it.
func TestCachedGOPIsPacedLiveUnitsAreNot(t *testing.T) {
	track, err := webrtc.NewTrackLocalStaticRTP(capability(capture.CodecH264), "video", "cam")
	if err != nil {
		t.Fatal(err)
	}
	p := newReplayPacer(replayRate)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	bs := newBatches()
	done := make(chan struct{})
	defer close(done)
	sw := sessionWriter{batches: bs, batch: bs.add(netip.MustParseAddrPort("127.0.0.1:9")), turn: p.join(done)}
	big := benchUnit(au(true, 64<<10))

	sw.write(track, stream.Item{Unit: big, TS: big.TS, Cached: true})
	// One slice per 16 KB; a slice ends on a packet boundary.
	if n := p.slices(); n < 4 || n > 5 {
		t.Fatalf("a cached 64 KB unit was written in %d slices, want 4 or 5", n)
	}
	sw.write(track, stream.Item{Unit: big, TS: big.TS})
	if n := p.slices(); n > 5 {
		t.Fatalf("a live 64 KB unit waited for %d slices, want none", n-5)
	}
	if sw.turn != nil {
		t.Fatal("the writer kept its turn in the pacer after its cached GOP")
	}
}

// joinAtOnce connects n loopback peers to st at once (their offers made
// first, then posted together) and returns each one's received packets.
func joinAtOnce(t *testing.T, ctx context.Context, w *Server, st *stream.Stream, n int) []chan *rtp.Packet {
	t.Helper()
	pcs := make([]*webrtc.PeerConnection, n)
	offers := make([]string, n)
	got := make([]chan *rtp.Packet, n)
	for i := range pcs {
		pcs[i] = loopbackPeer(t, nil)
		ch := make(chan *rtp.Packet, 4096)
		got[i] = ch
		pcs[i].OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				select {
				case ch <- p:
				default:
				}
			}
		})
		offers[i] = offerOf(t, pcs[i])
	}
	answers := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range pcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], _, errs[i] = w.Offer(ctx, st, offers[i])
		}()
	}
	wg.Wait()
	for i, pc := range pcs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answers[i]}); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// startsWithIDR reports whether an H.264 packet is the start of an IDR
// access unit: its parameter sets (alone or in a STAP-A) or its IDR slice.
func startsWithIDR(p *rtp.Packet) bool {
	if len(p.Payload) < 2 {
		return false
	}
	switch typ := p.Payload[0] & 0x1f; typ {
	case 7, 5: // SPS, IDR
		return true
	case 24: // STAP-A: the first NALU after its 2-byte size
		return len(p.Payload) > 3 && (p.Payload[3]&0x1f == 7 || p.Payload[3]&0x1f == 5)
	case 28: // FU-A, the first fragment of an IDR
		return p.Payload[1]&0x80 != 0 && p.Payload[1]&0x1f == 5
	}
	return false
}

// Ten viewers join a 1080p camera at the same instant, their receivers
// with the kernel's default UDP buffer and no NACK: each gets every packet
// of the cached GOP, a megabyte, in order from an IDR. Without one pacer
// for all joiners, their ten bursts at once overflow the receiving sockets
// now and then.
func TestTenViewersJoiningAtOnceLoseNoPacketOfTheCachedGOP(t *testing.T) {
	if raceDetector {
		t.Skip("under -race the ten receivers in this process drain slower than real ones; run without -race")
	}
	if os.Getenv("EDGECAM_TEST_EMULATED") != "" {
		// packaging/ci-checks.sh runs the ARM tests under qemu-user.
		t.Skip("under emulation the ten receivers in this process drain slower than real ones")
	}
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, nil)
	st := stream.New("cam", stream.Options{})
	defer st.Close()
	// A 2 s GOP of a 1080p camera at 4 Mbit/s: a 110 KB IDR and 59
	// frames of 16 KB.
	gop := 60
	for i := 0; i < gop; i++ {
		size := 16 << 10
		if i == 0 {
			size = 110 << 10
		}
		st.WriteAccessUnit(&capture.AccessUnit{NALUs: au(i == 0, size), PTS: int64(i) * 3000, IDR: i == 0, Session: 1, Received: time.Now()})
	}

	viewers := joinAtOnce(t, ctx, w, st, 10)
	for i, ch := range viewers {
		var first, last uint16
		n := 0
		timeout := time.After(20 * time.Second)
		for markers := 0; markers < gop; {
			select {
			case p := <-ch:
				if n == 0 {
					first = p.SequenceNumber
					if !startsWithIDR(p) {
						t.Fatalf("viewer %d: the first packet (NAL type %d) does not start an IDR", i, p.Payload[0]&0x1f)
					}
				} else if p.SequenceNumber != last+1 {
					t.Fatalf("viewer %d: packet %d after %d: %d of the cached GOP's packets lost", i, p.SequenceNumber, last, int(p.SequenceNumber-last-1))
				}
				last = p.SequenceNumber
				n++
				if p.Marker {
					markers++
				}
			case <-timeout:
				t.Fatalf("viewer %d: %d of the GOP's %d units arrived (%d packets from %d)", i, markers, gop, n, first)
			}
		}
	}
}
