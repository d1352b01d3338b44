package testcamera

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"github.com/edgecam/edgecam/capture/testcamera/hevc"
)

// stdLog collects anything written through package log. The camera promises
// to stay silent there (it would spam the daemon's journal), and so must the
// test clients, so TestMain fails the run if anything shows up.
var stdLog lockedBuffer

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	log.SetOutput(&stdLog)
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines still running after all cameras were closed:\n%s\n", leaked)
			code = 1
		}
		if out := stdLog.String(); out != "" {
			fmt.Fprintf(os.Stderr, "something wrote to package log:\n%s\n", out)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to timeout for every goroutine started by a camera
// or by gortsplib to end, and returns the stacks of those that did not.
func leakedGoroutines(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "bluenviron/gortsplib") || strings.Contains(g, "testcamera.(*Camera)") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClipMatchesDeclaredProperties(t *testing.T) {
	aus := AccessUnits()
	if len(aus) == 0 || len(aus)%GOP != 0 {
		t.Fatalf("clip has %d access units, want a positive multiple of GOP=%d", len(aus), GOP)
	}
	for i, au := range aus {
		if got, want := h264.IsRandomAccess(au), i%GOP == 0; got != want {
			t.Errorf("access unit %d: IsRandomAccess = %v, want %v (GOP %d)", i, got, want, GOP)
		}
		if i%GOP == 0 && !hasParams(au) {
			t.Errorf("access unit %d: IDR without SPS and PPS in front", i)
		}
	}

	sps, pps := Params()
	if len(pps) == 0 {
		t.Fatal("Params returned no PPS")
	}
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		t.Fatalf("parse SPS: %v", err)
	}
	if s.Width() != Width || s.Height() != Height || s.FPS() != FPS {
		t.Errorf("SPS says %dx%d at %v fps, constants say %dx%d at %d fps",
			s.Width(), s.Height(), s.FPS(), Width, Height, FPS)
	}
	if s.VUI != nil && s.VUI.BitstreamRestriction != nil && s.VUI.BitstreamRestriction.MaxNumReorderFrames != 0 {
		t.Errorf("clip allows %d reordered frames, want none (no B-frames)", s.VUI.BitstreamRestriction.MaxNumReorderFrames)
	}

	// Callers may scribble on what they get without harming later callers.
	aus[0][0][0] = 0xff
	if AccessUnits()[0][0][0] == 0xff {
		t.Error("AccessUnits returned shared memory")
	}
}

func TestParseClipGroupsNALUsIntoAccessUnits(t *testing.T) {
	sps := []byte{0x67, 0x4d, 0x00, 0x1e}
	pps := []byte{0x68, 0xee, 0x3c, 0x80}
	idr := []byte{0x65, 0x88, 0x84}       // first_mb_in_slice = 0
	slice0 := []byte{0x41, 0x9a, 0x01}    // first_mb_in_slice = 0
	slice1 := []byte{0x41, 0x5a, 0x02}    // first_mb_in_slice != 0: same picture
	aud := []byte{0x09, 0xf0}             // access unit delimiter
	sei := []byte{0x06, 0x05, 0x01, 0x80} // SEI

	var stream []byte
	add := func(startCode []byte, nalu []byte) {
		stream = append(stream, startCode...)
		stream = append(stream, nalu...)
	}
	long, short := []byte{0, 0, 0, 1}, []byte{0, 0, 1}
	add(long, sps)
	add(short, pps)
	add(short, idr)
	add(long, slice0)
	add(short, slice1)
	add(long, aud)
	add(long, sei)
	add(short, slice0)
	stream = append(stream, 0, 0) // trailing_zero_8bits

	c, err := parseClip(stream, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	want := [][][]byte{{sps, pps, idr}, {slice0, slice1}, {aud, sei, slice0}}
	if fmt.Sprint(c.aus) != fmt.Sprint(want) {
		t.Errorf("access units = %x\nwant %x", c.aus, want)
	}
	if !bytes.Equal(c.sps, sps) || !bytes.Equal(c.pps, pps) {
		t.Errorf("params = %x %x, want %x %x", c.sps, c.pps, sps, pps)
	}
}

func TestCameraStreamsDecodableH264AtFrameRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		opts         Options
		transport    gortsplib.Transport
		wantSDPSPS   bool
		wantInBandPS bool
	}{
		{"defaults over TCP", Options{}, gortsplib.TransportTCP, true, true},
		{"params only in band", Options{InBandOnly: true}, gortsplib.TransportTCP, false, true},
		{"params only in SDP", Options{NoInBandParams: true}, gortsplib.TransportTCP, true, false},
		{"UDP", Options{UDP: true}, gortsplib.TransportUDP, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Logf = t.Logf
			cam := startCamera(t, tc.opts)
			p := mustPlay(t, cam.URL(), tc.transport)

			waitFor(t, 5*time.Second, "session counted as playing", func() bool { return cam.SessionCount() == 1 })
			time.Sleep(2 * time.Second)
			st := p.stats()

			// Loose bounds: 2 s at 25 fps is 50 frames. Fewer than 20 means
			// the camera stalls; more than 80 means it isn't paced at all.
			if st.aus < 20 || st.aus > 80 {
				t.Errorf("received %d access units in 2 s, want about 50", st.aus)
			}
			if st.idrs < 1 {
				t.Error("received no IDR in 2 s, want one per second")
			}
			if st.decodeErrs != 0 || st.seqGaps != 0 || st.ptsNotIncreasing != 0 {
				t.Errorf("decode errors %d, sequence gaps %d, non-increasing PTS %d; want none",
					st.decodeErrs, st.seqGaps, st.ptsNotIncreasing)
			}

			sdpSPS, sdpPPS := p.forma.SafeParams()
			if got := sdpSPS != nil && sdpPPS != nil; got != tc.wantSDPSPS {
				t.Errorf("SPS/PPS in SDP: %v, want %v", got, tc.wantSDPSPS)
			}
			if got := st.inBandSPS != nil; got != tc.wantInBandPS {
				t.Errorf("SPS/PPS in band: %v, want %v", got, tc.wantInBandPS)
			}
			sps := sdpSPS
			if sps == nil {
				sps = st.inBandSPS
			}
			var s h264.SPS
			if err := s.Unmarshal(sps); err != nil {
				t.Fatalf("parse SPS: %v", err)
			}
			if s.Width() != Width || s.Height() != Height {
				t.Errorf("stream is %dx%d, want %dx%d", s.Width(), s.Height(), Width, Height)
			}

			p.close()
			waitFor(t, 5*time.Second, "session no longer counted", func() bool { return cam.SessionCount() == 0 })
		})
	}
}

func TestCameraRequiresConfiguredCredentials(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{User: "admin", Pass: "p@ss:w/rd"})
	if !strings.HasPrefix(cam.URL(), "rtsp://admin:") {
		t.Fatalf("URL %q lacks the credentials", cam.URL())
	}
	for _, tc := range []struct {
		name     string
		url      string
		wantCode base.StatusCode // 0: plays
	}{
		{"no credentials", "rtsp://" + cam.Addr() + "/stream", base.StatusUnauthorized},
		{"wrong password", "rtsp://admin:wrong@" + cam.Addr() + "/stream", base.StatusUnauthorized},
		{"right credentials", cam.URL(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := play(tc.url, gortsplib.TransportTCP)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("play: %v", err)
				}
				defer p.close()
				waitFor(t, 5*time.Second, "an access unit", func() bool { return p.stats().aus > 0 })
				return
			}
			if err == nil {
				p.close()
				t.Fatal("play succeeded, want it refused")
			}
			var bad liberrors.ErrClientBadStatusCode
			if !errors.As(err, &bad) || bad.Code != tc.wantCode {
				t.Errorf("play error = %v, want status %d", err, tc.wantCode)
			}
		})
	}
}

func TestCameraAnswersUnknownPathWithNotFound(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{Path: "front-door"})
	if !strings.HasSuffix(cam.URL(), "/front-door") {
		t.Errorf("URL %q does not end in the configured path", cam.URL())
	}
	_, err := play("rtsp://"+cam.Addr()+"/stream", gortsplib.TransportTCP)
	var bad liberrors.ErrClientBadStatusCode
	if !errors.As(err, &bad) || bad.Code != base.StatusNotFound {
		t.Errorf("play error = %v, want status 404", err)
	}
}

func TestH265CameraOffersOnlyH265WithItsParameterSets(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{Codec: "h265", Clip: hevc.Clip()})
	desc := describe(t, cam.URL())
	var h264Format *format.H264
	if desc.FindFormat(&h264Format) != nil {
		t.Error("description offers H.264, want only H.265")
	}
	var h265Format *format.H265
	if desc.FindFormat(&h265Format) == nil {
		t.Fatal("description offers no H.265")
	}
	vps, sps, pps := h265Format.SafeParams()
	if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
		t.Errorf("sprop-vps/sps/pps missing from the SDP: %d, %d, %d bytes", len(vps), len(sps), len(pps))
	}
	var s h265.SPS
	if err := s.Unmarshal(sps); err != nil {
		t.Fatalf("SPS: %v", err)
	}
	if s.Width() != hevc.Width || s.Height() != hevc.Height {
		t.Errorf("SPS says %dx%d, hevc promises %dx%d", s.Width(), s.Height(), hevc.Width, hevc.Height)
	}
	c, err := parseClip(hevc.Clip(), hevc.GOP, true)
	if err != nil {
		t.Fatalf("hevc clip: %v", err)
	}
	if len(c.aus) != 2*hevc.GOP {
		t.Errorf("hevc clip has %d access units, want %d", len(c.aus), 2*hevc.GOP)
	}
}

func TestMJPEGCameraOffersNoH264(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{Codec: "mjpeg"})
	desc := describe(t, cam.URL())
	var h264Format *format.H264
	var h265Format *format.H265
	if desc.FindFormat(&h264Format) != nil || desc.FindFormat(&h265Format) != nil {
		t.Error("description offers H.264 or H.265, want only M-JPEG")
	}
}

func TestStartRejectsUnknownCodec(t *testing.T) {
	if cam, err := Start(Options{Codec: "vp8"}); err == nil {
		cam.Close()
		t.Fatal("Start accepted codec vp8")
	}
	if cam, err := Start(Options{Codec: "h265"}); err == nil {
		cam.Close()
		t.Fatal("Start accepted an h265 camera without an H.265 clip")
	}
}

func TestCameraComesBackOnSameAddrAfterClose(t *testing.T) {
	t.Parallel()
	cam, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := mustPlay(t, cam.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "an access unit", func() bool { return p.stats().aus > 0 })

	addr, url := cam.Addr(), cam.URL()
	cam.Close()
	cam.Close() // idempotent

	select {
	case err := <-p.waitErr:
		if err == nil {
			t.Error("client ended without an error, want EOF")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client did not notice the camera closing within 5 s")
	}

	cam2 := startCamera(t, Options{Addr: addr})
	if cam2.Addr() != addr || cam2.URL() != url {
		t.Errorf("restarted camera at %s (%s), want %s (%s)", cam2.Addr(), cam2.URL(), addr, url)
	}
	p2 := mustPlay(t, cam2.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "an access unit after restart", func() bool { return p2.stats().aus > 0 })
}

func TestPausedCameraKeepsSessionButSendsNothing(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{})
	p := mustPlay(t, cam.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "packets", func() bool { return p.stats().packets > 0 })

	cam.Pause()
	time.Sleep(300 * time.Millisecond) // let packets already queued drain
	before := p.stats().packets
	time.Sleep(time.Second)
	if after := p.stats().packets; after != before {
		t.Errorf("received %d packets while paused, want none", after-before)
	}
	if n := cam.SessionCount(); n != 1 {
		t.Errorf("SessionCount while paused = %d, want 1 (session kept open)", n)
	}

	cam.Resume()
	waitFor(t, 5*time.Second, "packets after Resume", func() bool { return p.stats().packets > before })
}

func TestSetDropEveryLosesPackets(t *testing.T) {
	t.Parallel()
	cam := startCamera(t, Options{})
	cam.SetDropEvery(3)
	p := mustPlay(t, cam.URL(), gortsplib.TransportTCP)
	waitFor(t, 5*time.Second, "sequence number gaps", func() bool { return p.stats().seqGaps > 3 })

	cam.SetDropEvery(0)
	time.Sleep(200 * time.Millisecond) // let packets already queued drain
	before := p.stats().seqGaps
	time.Sleep(time.Second)
	if after := p.stats().seqGaps; after != before {
		t.Errorf("%d more sequence gaps after SetDropEvery(0), want none", after-before)
	}
}

func TestRTPTimestampsKeepIncreasingAcrossClipLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("needs to play the whole clip")
	}
	t.Parallel()
	cam := startCamera(t, Options{})
	p := mustPlay(t, cam.URL(), gortsplib.TransportTCP)
	loop := len(AccessUnits()) + GOP // past the loop point and into the next GOP
	timeout := time.Duration(loop)*time.Second/FPS + 5*time.Second
	waitFor(t, timeout, "a whole clip loop", func() bool { return p.stats().aus > loop })
	if st := p.stats(); st.ptsNotIncreasing != 0 || st.decodeErrs != 0 {
		t.Errorf("non-increasing PTS %d, decode errors %d; want none", st.ptsNotIncreasing, st.decodeErrs)
	}
}

// startCamera starts a camera that is closed when the test ends.
func startCamera(t *testing.T, opts Options) *Camera {
	t.Helper()
	cam, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasParams(au [][]byte) bool {
	var sps, pps bool
	for _, nalu := range au {
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = true
		case h264.NALUTypePPS:
			pps = true
		}
	}
	return sps && pps
}

// newClient returns a client that never writes through package log.
func newClient(u *base.URL, transport gortsplib.Transport) *gortsplib.Client {
	return &gortsplib.Client{
		Scheme:            u.Scheme,
		Host:              u.Host,
		Transport:         &transport,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		OnPacketsLost:     func(uint64) {},
		OnDecodeError:     func(error) {},
		OnTransportSwitch: func(error) {},
	}
}

func describe(t *testing.T, rawURL string) *description.Session {
	t.Helper()
	u, err := base.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(u, gortsplib.TransportTCP)
	if err := c.Start2(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatalf("DESCRIBE %s: %v", rawURL, err)
	}
	return desc
}

// player plays a camera's H.264 track and records what a consumer would care
// about: access units, IDRs, in-band parameters, losses and timestamp order.
type player struct {
	c       *gortsplib.Client
	forma   *format.H264
	waitErr chan error

	mu sync.Mutex
	st playerStats
	// reader-goroutine state
	haveSeq bool
	lastSeq uint16
	havePTS bool
	lastPTS int64
}

type playerStats struct {
	packets, aus, idrs  int
	decodeErrs, seqGaps int
	ptsNotIncreasing    int
	inBandSPS           []byte
}

func (p *player) stats() playerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

func (p *player) close() {
	p.c.Close()
}

func mustPlay(t *testing.T, rawURL string, transport gortsplib.Transport) *player {
	t.Helper()
	p, err := play(rawURL, transport)
	if err != nil {
		t.Fatalf("play %s: %v", rawURL, err)
	}
	t.Cleanup(p.close)
	return p
}

func play(rawURL string, transport gortsplib.Transport) (*player, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	p := &player{c: newClient(u, transport), waitErr: make(chan error, 1)}
	if err := p.c.Start2(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			p.c.Close()
		}
	}()

	desc, _, err := p.c.Describe(u)
	if err != nil {
		return nil, err
	}
	medi := desc.FindFormat(&p.forma)
	if medi == nil {
		return nil, errors.New("no H.264 track")
	}
	dec, err := p.forma.CreateDecoder()
	if err != nil {
		return nil, err
	}
	if _, err := p.c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return nil, err
	}
	p.c.OnPacketRTP(medi, p.forma, func(pkt *rtp.Packet) {
		p.onPacket(medi, dec, pkt)
	})
	if _, err := p.c.Play(nil); err != nil {
		return nil, err
	}
	go func() { p.waitErr <- p.c.Wait() }()
	ok = true
	return p, nil
}

// onPacket runs on the client's reader goroutine.
func (p *player) onPacket(medi *description.Media, dec *rtph264.Decoder, pkt *rtp.Packet) {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.st.packets++
	if p.haveSeq && pkt.SequenceNumber != p.lastSeq+1 {
		p.st.seqGaps++
	}
	p.haveSeq, p.lastSeq = true, pkt.SequenceNumber

	au, err := dec.Decode(pkt)
	if err != nil {
		if !errors.Is(err, rtph264.ErrMorePacketsNeeded) && !errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
			p.st.decodeErrs++
		}
		return
	}
	p.st.aus++
	if h264.IsRandomAccess(au) {
		p.st.idrs++
	}
	for _, nalu := range au {
		if h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeSPS && p.st.inBandSPS == nil {
			p.st.inBandSPS = append([]byte(nil), nalu...)
		}
	}
	if pts, ok := p.c.PacketPTS2(medi, pkt); ok {
		if p.havePTS && pts <= p.lastPTS {
			p.st.ptsNotIncreasing++
		}
		p.havePTS, p.lastPTS = true, pts
	}
}

func TestSendTimeSEIRoundTripsThroughEmulationPrevention(t *testing.T) {
	for _, ns := range []int64{0, 1, 0x0000000300000000, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()} {
		for _, frame := range []uint64{0, 3, 0x0000000100000000, ^uint64(0)} {
			nalu := sendTimeSEI(time.Unix(0, ns), frame)
			for i := 2; i < len(nalu); i++ {
				if nalu[i-2] == 0 && nalu[i-1] == 0 && nalu[i] <= 2 {
					t.Fatalf("start code emulation at %d in %x", i, nalu)
				}
			}
			sent, f, ok := ParseSendTime(nalu)
			if !ok || sent.UnixNano() != ns || f != frame {
				t.Fatalf("ParseSendTime(%x) = %v, %d, %v; want %d, %d", nalu, sent.UnixNano(), f, ok, ns, frame)
			}
		}
	}
	if _, _, ok := ParseSendTime([]byte{0x06, 0x05, 0x01, 0x80}); ok {
		t.Fatal("an encoder's own SEI was taken for a send-time stamp")
	}
}
