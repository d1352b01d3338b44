package whep

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
)

// messageHandler passes the message of every log record to a channel.
type messageHandler struct{ msgs chan<- string }

func (h messageHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h messageHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h messageHandler) WithGroup(string) slog.Handler            { return h }
func (h messageHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}

// TestViewerRTCPReachesTheSessionOverWebRTC connects a pion peer on
// loopback, as a browser would, and checks the RTCP paths a viewer relies
// on: a NACK has the lost packet sent again, a PLI reaches the session, and
// sender reports keep coming.
func TestViewerRTCPReachesTheSessionOverWebRTC(t *testing.T) {
	msgs := make(chan string, 64)
	w, ctx := startWebRTC(t, Config{Interfaces: []string{"lo"}}, slog.New(messageHandler{msgs}))
	st := stream.New("cam", stream.Options{})
	defer st.Close()
	// The resent packet is one this peer already has; a browser only asks
	// for packets it lacks, so its replay check would not see a repeat.
	pc := loopbackPeer(t, func(se *webrtc.SettingEngine) { se.DisableSRTPReplayProtection(true) })
	packets := make(chan rtp.Header, 4096)
	reports := make(chan uint32, 16)
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		go func() {
			for {
				pkts, _, err := recv.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						select {
						case reports <- sr.SSRC:
						default:
						}
					}
				}
			}
		}()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case packets <- p.Header:
			default:
			}
		}
	})
	connectPeer(t, ctx, w, st, pc)

	// A camera at 30 fps until the test ends.
	feedDone := make(chan struct{})
	defer func() { <-feedDone }()
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	go func() {
		defer close(feedDone)
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		for i := int64(0); ; i++ {
			st.WriteAccessUnit(&capture.AccessUnit{NALUs: au(i%30 == 0, 3000), PTS: int64(i * 3000), IDR: i%30 == 0, Session: 1, Received: time.Now()})
			select {
			case <-tick.C:
			case <-feedCtx.Done():
				return
			}
		}
	}()

	timeout := time.After(10 * time.Second)
	var first rtp.Header
	select {
	case first = <-packets:
	case <-timeout:
		t.Fatal("no media reached the viewer")
	}

	nack := &rtcp.TransportLayerNack{MediaSSRC: first.SSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{first.SequenceNumber})}
	if err := pc.WriteRTCP([]rtcp.Packet{nack, &rtcp.PictureLossIndication{MediaSSRC: first.SSRC}}); err != nil {
		t.Fatal(err)
	}
	for resent, asked, reported := false, false, false; !resent || !asked || !reported; {
		select {
		case h := <-packets:
			resent = resent || h.SequenceNumber == first.SequenceNumber
		case msg := <-msgs:
			asked = asked || msg == "viewer asked for a keyframe"
		case ssrc := <-reports:
			reported = reported || ssrc == first.SSRC
		case <-timeout:
			t.Fatalf("after a NACK and a PLI: packet %d resent %v, keyframe request seen %v, sender report seen %v",
				first.SequenceNumber, resent, asked, reported)
		}
	}
}
