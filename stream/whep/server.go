// Package whep sends streams to WebRTC viewers that connect over WHEP.
//
// A Server answers each viewer's SDP offer with a PeerConnection that plays
// one stream.Stream: the camera's H.264 or H.265 is forwarded untouched,
// with the viewer's own sequence numbers, starting at the cached GOP. A
// viewer whose offer cannot take the camera's codec is refused
// (CodecError); nothing is ever transcoded. All sessions
// share one UDP port (a pion UDP mux), one DTLS certificate and a NACK
// responder that resends from the units the stream already holds; a
// viewer's packets for one access unit leave in one batched send.
package whep

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/stream"
)

// h264Fmtp is the format every major browser offers. The camera's real
// Main/High stream is sent under it: browser decoders take any profile once
// the session is up, and matching the offer exactly keeps pion from falling
// back to whatever the browser listed first.
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// h265Fmtp is the H.265 format browsers that decode H.265 over WebRTC
// offer first (Main profile, main tier, single RTP stream); the camera's
// stream is sent under it whatever its level, which an answer may lower
// (RFC 7798 7.2.2), as H.264 is sent under h264Fmtp.
const h265Fmtp = "level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST"

// dtlsRetransmit is how long a DTLS handshake flight goes unanswered
// before it is sent again.
const dtlsRetransmit = 100 * time.Millisecond

// rtcpReadSize holds the largest RTCP compound packet a viewer sends: pion
// reads one SRTCP datagram per call, and its default receive MTU is 1460.
const rtcpReadSize = 1500

// Defaults of Config's zero values.
const (
	// DefaultMaxSessions caps a small box's sessions.
	DefaultMaxSessions = 64
	// defaultConnectTimeout is how long a session may take to reach
	// "connected" before it is dropped (a client that posts an offer and
	// never does ICE).
	defaultConnectTimeout = 15 * time.Second
	defaultDisconnected   = 4 * time.Second
	defaultFailed         = 8 * time.Second
)

// Errors from Offer, mapped to HTTP statuses by the caller.
// MaxRemoteCandidates is the most ICE candidates an offer may list.
const MaxRemoteCandidates = 32

var (
	// ErrBadOffer means the SDP offer cannot be used (4xx).
	ErrBadOffer = errors.New("bad offer")
	// ErrTooManySessions means the server-wide session limit is reached (503).
	ErrTooManySessions = errors.New("too many webrtc sessions")
	// ErrNoSession means the session id is unknown (404).
	ErrNoSession = errors.New("no such session")
	// ErrStopped means the server is shutting down (503).
	ErrStopped = errors.New("webrtc server stopped")
)

// CodecError refuses an offer that cannot take the camera's codec: a
// browser without H.265 over WebRTC asking for an H.265 camera (406; the
// page shows the camera over JPEG instead).
type CodecError struct {
	Codec capture.Codec
}

func (e *CodecError) Error() string {
	if e.Codec == capture.CodecH265 {
		return "H.265: this browser cannot play it over WebRTC (its offer has no H.265); use the JPEG stream"
	}
	return fmt.Sprintf("%s: the offer has no %s this server can send (H.264 needs packetization-mode=1)", e.Codec, e.Codec)
}

// Config configures the WebRTC egress.
type Config struct {
	// UDPPort carries all media of all sessions. 0 picks a free port per address.
	UDPPort int
	// Interfaces limits ICE to these interface names; empty means all.
	Interfaces []string
	// Hosts are extra addresses announced as host candidates (1:1 NAT).
	// Hostnames are resolved once at start.
	Hosts []string
	// MaxSessions caps concurrent sessions; zero means DefaultMaxSessions.
	MaxSessions int
	// Disconnected and Failed are the ICE timeouts; zero means their
	// defaults.
	Disconnected, Failed time.Duration
	// ConnectTimeout drops a session that has not connected this long after
	// its offer (a client that posts and never does ICE); zero means its
	// default.
	ConnectTimeout time.Duration
}

// Server serves Streams to WebRTC peers. Create it with NewServer, call Run,
// and hand it offers.
type Server struct {
	log  *slog.Logger
	apis map[capture.Codec]*webrtc.API
	// hosts are Config.Hosts' addresses, which every answer names.
	hosts   []string
	mux     *ice.MultiUDPMuxDefault
	batches *batches
	// pacer spreads the cached-GOP replays of joining sessions (pacer.go).
	pacer *replayPacer
	// keyframeRepeats is when a keyframe start sends its keyframe again
	// (start.go).
	keyframeRepeats []time.Duration
	// cert is the DTLS certificate of new sessions (see certificate).
	certMu sync.Mutex
	cert   *webrtc.Certificate

	max            int
	connectTimeout time.Duration
	ctx            context.Context
	stop           context.CancelFunc

	wg       sync.WaitGroup
	mu       sync.Mutex
	sessions map[string]*session
}

// NewServer binds the UDP port and prepares the WebRTC API.
func NewServer(cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.Disconnected <= 0 {
		cfg.Disconnected = defaultDisconnected
	}
	if cfg.Failed <= 0 {
		cfg.Failed = defaultFailed
	}
	quiet := &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}

	stdNet, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("webrtc: network: %w", err)
	}
	bt := newBatches()
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithNet(muxNet(stdNet, bt)),
		ice.UDPMuxFromPortWithLogger(quiet.NewLogger("udpmux")),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		ice.UDPMuxFromPortWithLoopback(),
	}
	if len(cfg.Interfaces) > 0 {
		ifaces := slices.Clone(cfg.Interfaces)
		opts = append(opts, ice.UDPMuxFromPortWithInterfaceFilter(func(name string) bool {
			return slices.Contains(ifaces, name)
		}))
	}
	mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, opts...)
	if err != nil {
		return nil, fmt.Errorf("webrtc: listen on udp port %d: %w", cfg.UDPPort, err)
	}
	if len(mux.GetListenAddresses()) == 0 {
		_ = mux.Close()
		return nil, fmt.Errorf("webrtc: no usable network address for udp port %d (interfaces %v)", cfg.UDPPort, cfg.Interfaces)
	}

	se := webrtc.SettingEngine{LoggerFactory: quiet}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	// Browsers hide their addresses behind mDNS names; the server does not
	// need to resolve them, it answers the browser's checks (peer-reflexive).
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(cfg.Disconnected, cfg.Failed, time.Second)
	// A lost handshake flight is sent again after this, not after DTLS's
	// default second: on a LAN a flight takes a millisecond, and a wall of
	// sixteen cameras starting at once loses some to the bursts of those
	// already playing.
	se.SetDTLSRetransmissionInterval(dtlsRetransmit)
	var hosts []string
	if len(cfg.Hosts) > 0 {
		ips, err := resolveHosts(cfg.Hosts)
		if err != nil {
			_ = mux.Close()
			return nil, err
		}
		hosts = ips
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        ips,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteAppend,
		}); err != nil {
			_ = mux.Close()
			return nil, fmt.Errorf("webrtc: hosts: %w", err)
		}
	}

	ir := &interceptor.Registry{}
	// NACK lets the browser recover single lost packets from our send
	// history (nackResponder, which unlike pion's does not copy every
	// packet); sender reports keep its statistics meaningful. Congestion
	// control is left out: a pass-through relay cannot change the bitrate.
	// No NACK generator and no receiver reports either: viewers send no
	// media, and pion's receiver-report interceptor would still run a
	// goroutine and a ticker per session to report on nothing.
	nf, err := nackFactory()
	if err != nil {
		_ = mux.Close()
		return nil, fmt.Errorf("webrtc: nack: %w", err)
	}
	ir.Add(nf)
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		_ = mux.Close()
		return nil, fmt.Errorf("webrtc: sender reports: %w", err)
	}
	ir.Add(sr)
	// One API per codec, each knowing only that codec: the answer then
	// offers exactly what the session will send, and pion cannot settle
	// on the other codec the browser also listed.
	apis := map[capture.Codec]*webrtc.API{}
	for _, codec := range []capture.Codec{capture.CodecH264, capture.CodecH265} {
		m := &webrtc.MediaEngine{}
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: capability(codec),
			PayloadType:        payloadType(codec),
		}, webrtc.RTPCodecTypeVideo); err != nil {
			_ = mux.Close()
			return nil, fmt.Errorf("webrtc: register %s: %w", codec, err)
		}
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
		apis[codec] = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir))
	}

	ctx, stop := context.WithCancel(context.Background())
	return &Server{
		log:             log,
		apis:            apis,
		hosts:           hosts,
		mux:             mux,
		batches:         bt,
		pacer:           newReplayPacer(replayRate),
		keyframeRepeats: keyframeRepeats,
		max:             cfg.MaxSessions,
		connectTimeout:  cfg.ConnectTimeout,
		ctx:             ctx,
		stop:            stop,
		sessions:        make(map[string]*session),
	}, nil
}

// capability is what a session sending codec offers to send.
func capability(codec capture.Codec) webrtc.RTPCodecCapability {
	c := webrtc.RTPCodecCapability{
		MimeType:    webrtc.MimeTypeH264,
		ClockRate:   90000,
		SDPFmtpLine: h264Fmtp,
		RTCPFeedback: []webrtc.RTCPFeedback{
			{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
		},
	}
	if codec == capture.CodecH265 {
		c.MimeType, c.SDPFmtpLine = webrtc.MimeTypeH265, h265Fmtp
	}
	return c
}

// payloadType is the payload type a codec is registered with; the
// session sends whatever the viewer's offer numbered it.
func payloadType(codec capture.Codec) webrtc.PayloadType {
	if codec == capture.CodecH265 {
		return 116
	}
	return 102
}

// offers reports whether an SDP offer lists a codec that can carry codec.
// pion would otherwise accept an offer without it and answer with a
// session that plays nothing.
func offers(offer string, codec capture.Codec) bool {
	name := "H264/90000"
	if codec == capture.CodecH265 {
		name = "H265/90000"
	}
	for line := range strings.Lines(offer) {
		if strings.HasPrefix(line, "a=rtpmap:") && strings.Contains(strings.ToUpper(line), name) {
			return true
		}
	}
	return false
}

func resolveHosts(hosts []string) ([]string, error) {
	var ips []string
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip.String())
			continue
		}
		addrs, err := net.LookupIP(h)
		if err != nil {
			return nil, fmt.Errorf("webrtc: resolve host %q: %w", h, err)
		}
		for _, a := range addrs {
			if a.To4() != nil {
				ips = append(ips, a.String())
			}
		}
	}
	return ips, nil
}

// LocalAddrs returns the UDP addresses media is received on.
func (w *Server) LocalAddrs() []net.Addr { return w.mux.GetListenAddresses() }

// Run paces the sessions' cached-GOP replays until ctx ends, then closes
// every session and the UDP port.
func (w *Server) Run(ctx context.Context) error {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.pacer.run(w.ctx)
	}()
	<-ctx.Done()
	w.stop()
	w.mu.Lock()
	all := make([]*session, 0, len(w.sessions))
	for _, s := range w.sessions {
		all = append(all, s)
	}
	w.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	w.wg.Wait()
	return w.mux.Close()
}

// Sessions returns the number of open sessions.
func (w *Server) Sessions() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sessions)
}

// certificate returns the DTLS certificate for a new session. pion would
// make a new ECDSA key and certificate per PeerConnection, which is most of
// the CPU a join costs when many viewers open the page at once; one is
// shared instead, and sessions still get their own keys from the ephemeral
// ECDHE handshake. pion refuses an expired certificate (they last a month),
// so it is replaced a week before.
func (w *Server) certificate() (webrtc.Certificate, error) {
	w.certMu.Lock()
	defer w.certMu.Unlock()
	if w.cert == nil || time.Until(w.cert.Expires()) < 7*24*time.Hour {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("dtls key: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
		}
		w.cert = cert
	}
	return *w.cert, nil
}

// Offer answers a WebRTC offer with a session playing st. It returns the SDP
// answer and the session id. Errors wrap ErrBadOffer, ErrTooManySessions,
// ErrStopped, stream.ErrTooManyReaders or stream.ErrClosed.
func (w *Server) Offer(ctx context.Context, st *stream.Stream, offer string, opts ...OfferOption) (answer, id string, err error) {
	answer, ids, err := w.OfferMany(ctx, []*stream.Stream{st}, offer, opts...)
	if err != nil {
		return "", "", err
	}
	return answer, ids[0], nil
}

// MaxStreamsPerPeer is the most streams one offer may ask for.
const MaxStreamsPerPeer = 64

// OfferMany answers an offer whose video sections are, in order, one per
// stream of sts, with one PeerConnection playing them all: a wall of
// cameras in one browser then does one ICE and DTLS handshake, not one per
// camera, over one bundled transport. Each stream is a session of its own
// (its id is in ids, in the order of sts) that Close ends alone; the
// PeerConnection ends with the last of them, or ends them all when it
// fails. The streams must share one codec. Errors are Offer's.
func (w *Server) OfferMany(ctx context.Context, sts []*stream.Stream, offer string, opts ...OfferOption) (answer string, ids []string, err error) {
	if w.ctx.Err() != nil {
		return "", nil, ErrStopped
	}
	if len(sts) == 0 || len(sts) > MaxStreamsPerPeer {
		return "", nil, fmt.Errorf("%w: %d streams in one session, want 1 to %d", ErrBadOffer, len(sts), MaxStreamsPerPeer)
	}
	if n := strings.Count(offer, "m=video"); n == 0 {
		return "", nil, fmt.Errorf("%w: the offer has no video media section", ErrBadOffer)
	} else if len(sts) > 1 && n != len(sts) {
		return "", nil, fmt.Errorf("%w: the offer has %d video sections for %d streams", ErrBadOffer, n, len(sts))
	}
	// Every remote candidate gets connectivity checks: an offer naming
	// hundreds of host:port pairs would turn the daemon into a packet
	// cannon aimed at them. A browser offers a handful.
	if n := strings.Count(offer, "a=candidate:"); n > MaxRemoteCandidates {
		return "", nil, fmt.Errorf("%w: %d candidates, at most %d are taken", ErrBadOffer, n, MaxRemoteCandidates)
	}
	w.mu.Lock()
	full := len(w.sessions)+len(sts) > w.max
	w.mu.Unlock()
	if full {
		return "", nil, ErrTooManySessions
	}
	codec := sts[0].Codec()
	for _, st := range sts[1:] {
		if c := st.Codec(); c != codec {
			return "", nil, fmt.Errorf("%w: %s sends %s and %s sends %s: ask for them in separate sessions", ErrBadOffer, sts[0].Name(), codec, st.Name(), c)
		}
	}

	cert, err := w.certificate()
	if err != nil {
		return "", nil, err
	}
	pc, err := w.apis[codec].NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return "", nil, fmt.Errorf("new peer connection: %w", err)
	}
	var readers []*stream.Reader
	fail := func(e error) (string, []string, error) {
		for _, r := range readers {
			r.Close()
		}
		_ = pc.Close()
		return "", nil, e
	}
	// Tracks added before the offer is applied take its video sections in
	// order: track i plays in the i-th.
	tracks := make([]*webrtc.TrackLocalStaticRTP, len(sts))
	senders := make([]*webrtc.RTPSender, len(sts))
	for i, st := range sts {
		trackID := "video"
		if len(sts) > 1 {
			trackID = fmt.Sprintf("video%d", i)
		}
		track, err := webrtc.NewTrackLocalStaticRTP(capability(codec), trackID, "edgecam-"+st.Name())
		if err != nil {
			return fail(err)
		}
		sender, err := pc.AddTrack(track)
		if err != nil {
			return fail(err)
		}
		tracks[i], senders[i] = track, sender
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	if !offers(offer, codec) {
		return fail(&CodecError{Codec: codec})
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	// offers (above) finds an offer without the codec at all; this finds
	// one whose formats of it do not fit. pion accepts a partial codec
	// match silently; a browser that only
	// offers packetization-mode=0 could not take our FU-A packets, one
	// that offers H.265 only in another profile could not decode it.
	for _, sender := range senders {
		codecs := sender.GetParameters().Codecs
		if len(codecs) == 0 || !strings.EqualFold(codecs[0].MimeType, capability(codec).MimeType) ||
			(codec == capture.CodecH264 && !strings.Contains(codecs[0].SDPFmtpLine, "packetization-mode=1")) {
			return fail(&CodecError{Codec: codec})
		}
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}

	for _, st := range sts {
		reader, err := st.Subscribe()
		if err != nil {
			return fail(err)
		}
		readers = append(readers, reader)
		if reader.Codec() != codec {
			// The camera switched codecs while this offer was answered.
			return fail(&CodecError{Codec: reader.Codec()})
		}
	}
	var o offerOptions
	for _, opt := range opts {
		opt(&o)
	}
	p := newPeer(pc, len(sts))
	sessions := make([]*session, len(sts))
	for i, st := range sts {
		s := &session{
			id:     newID(),
			start:  o.start,
			camera: st.Name(),
			w:      w,
			peer:   p,
			track:  tracks[i],
			sender: senders[i],
			reader: readers[i],
			done:   make(chan struct{}),
			log:    w.log.With("camera", st.Name()),
		}
		if l := st.Label(); l != "" {
			s.log = s.log.With("stream", l)
		}
		s.log = s.log.With("session", s.id)
		sessions[i] = s
	}

	w.mu.Lock()
	if len(w.sessions)+len(sessions) > w.max || w.ctx.Err() != nil {
		w.mu.Unlock()
		return fail(ErrTooManySessions)
	}
	for _, s := range sessions {
		w.sessions[s.id] = s
	}
	w.wg.Add(3 * len(sessions))
	w.mu.Unlock()

	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		sessions[0].log.Debug("webrtc state", "state", state.String())
		switch state {
		case webrtc.PeerConnectionStateConnected:
			p.connectedOnce.Do(func() { close(p.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			// Closing the PeerConnection from its own callback deadlocks;
			// the sessions' watch goroutines do it.
			p.failedOnce.Do(func() { close(p.failed) })
		}
	})
	ids = make([]string, len(sessions))
	for i, s := range sessions {
		ids[i] = s.id
		go s.readRTCP()
		go s.write()
		go s.watch()
		attrs := []any{"transport", "webrtc"}
		if s.start == StartKeyframe {
			attrs = append(attrs, "start", "keyframe")
		}
		if len(sessions) > 1 {
			attrs = append(attrs, "shared", len(sessions))
		}
		s.log.Info("viewer joined", attrs...)
	}
	return keepCandidates(pc.LocalDescription().SDP, o.reachedAt, w.hosts), ids, nil
}

// Close ends the session with the given id; camera must match its camera.
func (w *Server) Close(camera, id string) error {
	w.mu.Lock()
	s, ok := w.sessions[id]
	w.mu.Unlock()
	if !ok || s.camera != camera {
		return ErrNoSession
	}
	s.close()
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// session is one stream played to a viewer: a track of a PeerConnection
// (its peer), which may carry other streams' sessions too.
type session struct {
	id     string
	camera string
	w      *Server
	peer   *peer
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	reader *stream.Reader
	log    *slog.Logger
	start  Start

	closeOnce sync.Once
	done      chan struct{}
	// direct is set once the camera's goroutine sends to this viewer itself.
	direct atomic.Bool
}

func (s *session) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.reader.Close()
		// The track stops, and with it its sender reports, which is how a
		// browser whose connection plays other sessions still can tell
		// that this one ended (a reload changed the camera, say).
		_ = s.sender.Stop()
		s.peer.release()
		s.w.mu.Lock()
		delete(s.w.sessions, s.id)
		s.w.mu.Unlock()
		s.log.Info("viewer left", "transport", "webrtc")
	})
}

// readRTCP drains RTCP; the NACK interceptor only works while someone
// reads, and unread RTCP would pile up in pion's receive buffer. Unlike
// RTPSender.ReadRTCP it reuses one buffer and takes the packets the NACK
// interceptor already parsed, so a viewer's RTCP is neither read into a
// fresh buffer nor parsed twice.
func (s *session) readRTCP() {
	defer s.w.wg.Done()
	buf := make([]byte, rtcpReadSize)
	for {
		n, a, err := s.sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := a.GetRTCPPackets(buf[:n])
		if err != nil {
			continue // one bad compound packet; the next may be fine
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				// The camera cannot be asked for a keyframe reliably; the
				// GOP cache already started this viewer at an IDR.
				s.log.Debug("viewer asked for a keyframe")
			}
		}
	}
}

// write forwards the reader's units with this viewer's own sequence numbers.
func (s *session) write() {
	defer s.w.wg.Done()
	defer s.close()
	// Wait for DTLS: packets written before it are dropped by pion, and the
	// IDR at the head of the queue must not be among them.
	select {
	case <-s.peer.connected:
	case <-s.done:
		return
	}
	sw := sessionWriter{batches: s.w.batches, batch: s.batch(), turn: s.w.pacer.join(s.done)}
	sw.keyframe.on = s.start == StartKeyframe && s.reader.Cached() > keyframeStartKeep
	sw.keyframe.repeats = s.w.keyframeRepeats
	if sw.batch != nil {
		defer s.w.batches.remove(sw.batch)
	}
	ch := s.reader.C()
	for {
		select {
		case item, ok := <-ch:
			if !ok {
				sw.endReplay()
				return
			}
			sw.write(s.track, item)
			continue
		default:
		}
		// Caught up with the cached GOP and what queued behind it: from
		// here the camera's goroutine sends each unit itself, and this one
		// only waits for the end. Sending UDP never waits on the viewer.
		sw.endReplay()
		if s.reader.Direct(func(item stream.Item) { sw.write(s.track, item) }) {
			s.direct.Store(true)
			for range ch {
			}
			return
		}
	}
}

// batch registers a send batch for the viewer's address, so each access
// unit leaves in a few GSO sends (udpbatch.go); nil if the address is
// unknown.
func (s *session) batch() *udpBatch {
	if !batchSends {
		return nil
	}
	pair, err := s.peer.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Remote == nil {
		return nil
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return nil
	}
	return s.w.batches.add(netip.AddrPortFrom(ip, pair.Remote.Port))
}

// sessionWriter rewrites a viewer's packets: its own sequence numbers, and
// the timestamp its Item carries. One packet header is reused for every
// packet, so forwarding does not allocate. With a batch, each access unit's
// packets leave together when it is written. The cached units a viewer
// starts with leave in slices the server's pacer grants (pacer.go).
type sessionWriter struct {
	seq     uint16
	pkt     rtp.Packet
	batches *batches
	batch   *udpBatch
	// turn is the session's place in the pacer while it replays its
	// cached GOP; nil once that is over (or for a writer never paced).
	turn     *replayTurn
	replayed int  // cached units written
	slice    int  // bytes written of the current slice
	granted  bool // a slice is granted and not yet full
	// keyframe thins a keyframe start (start.go).
	keyframe keyframeOnly
}

func (w *sessionWriter) write(track *webrtc.TrackLocalStaticRTP, item stream.Item) {
	if w.keyframe.skip(item) {
		if again, ok := w.keyframe.again(time.Now()); ok {
			w.send(track, again)
		}
		return
	}
	w.send(track, item)
}

// send writes one unit's packets.
func (w *sessionWriter) send(track *webrtc.TrackLocalStaticRTP, item stream.Item) {
	if w.batch != nil {
		w.batches.begin(w.batch)
		defer w.batches.send(w.batch)
	}
	paced := item.Cached && w.turn != nil
	if !item.Cached {
		w.endReplay()
	}
	for i := range item.Unit.Packets {
		if paced && !w.granted {
			if !w.nextSlice() {
				return // the session is ending
			}
		}
		p := &item.Unit.Packets[i]
		w.pkt.Header = p.Header
		w.pkt.Header.SequenceNumber = w.seq
		w.pkt.Header.Timestamp = item.TS
		w.pkt.Payload = p.Payload
		w.seq++
		// Errors only report a closed binding; the state callback ends the session.
		_ = track.WriteRTP(&w.pkt)
		if paced {
			w.slice += len(p.Payload)
			w.granted = w.slice < burstSlice
		}
	}
	if paced {
		w.replayed++
	}
}

// nextSlice sends what the last slice queued and waits for the pacer to
// grant the next; false if the session ended first.
func (w *sessionWriter) nextSlice() bool {
	if w.batch != nil {
		w.batches.send(w.batch)
		defer w.batches.begin(w.batch)
	}
	ok := w.turn.wait(w.replayed, w.slice)
	w.slice, w.granted = 0, ok
	return ok
}

// endReplay gives up the writer's turn in the pacer once its cached GOP is
// written (or the session ends during it).
func (w *sessionWriter) endReplay() {
	if w.turn == nil {
		return
	}
	w.turn.leave(w.slice)
	w.turn, w.slice, w.granted = nil, 0, false
}

// watch ends the session when its connection fails or closes, or when it
// never connects (a client that posts an offer and does no ICE).
func (s *session) watch() {
	defer s.w.wg.Done()
	t := time.NewTimer(s.w.connectTimeout)
	defer t.Stop()
	connected := s.peer.connected
	for {
		select {
		case <-connected:
			t.Stop()
			connected = nil // a closed channel would spin this loop
		case <-s.peer.failed:
			s.close()
			return
		case <-s.done:
			return
		case <-t.C:
			s.log.Info("viewer never connected", "after", s.w.connectTimeout)
			s.close()
			return
		}
	}
}
