// Package testcamera is an in-process RTSP camera that loops a small embedded
// H.264 clip (a moving test pattern with a running timecode), or an H.265
// clip it is given (package hevc has one).
//
// It exists so that edgecam can be tried without hardware (`edgecam run --demo`)
// and so that integration tests have a camera whose faults they control:
// authentication, SDP without parameter sets, parameter sets only in the SDP, a
// camera offering a codec edgecam does not forward, packet loss (SetDropEvery), jitter (SetJitter), garbage
// RTP payloads (SetGarbageEvery), truncated NAL units (SetTruncateEvery), a
// resolution change mid-stream (SetClip), a hung camera that keeps its
// sessions but stops sending (Pause) and a camera that goes away and comes back
// on the same address (Close, then Start with the old Addr). The command in
// cmd/testcamera runs one as a separate process, so tests can also freeze it
// with SIGSTOP.
package testcamera

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Options configure a Camera. The zero value serves the demo clip as H.264 over
// RTSP/TCP at rtsp://127.0.0.1:<random port>/stream without authentication,
// with SPS/PPS both in the SDP and in-band before every IDR.
type Options struct {
	// Addr is the RTSP listen address. Default "127.0.0.1:0" (a free port, so
	// tests can run in parallel); Camera.Addr reports the port chosen.
	Addr string
	// Path is the stream path clients must request. Default "/stream"; a
	// missing leading slash is added. Other paths get 404 Not Found.
	Path string
	// User and Pass, when either is set, make DESCRIBE and SETUP require these
	// credentials (Basic or Digest, as real cameras offer); otherwise 401.
	User, Pass string
	// Codec is "h264" (default), "h265" or "mjpeg". An "h265" camera
	// loops Clip, which must then be H.265 (package hevc has one). An
	// "mjpeg" camera announces a single M-JPEG track and sends nothing, to
	// test how a client reacts to a camera whose codec it cannot forward.
	Codec string
	// InBandOnly announces the video track without its parameter sets
	// (sprop-parameter-sets; sprop-vps/sps/pps), as many real cameras do,
	// so they are only available in-band.
	InBandOnly bool
	// NoInBandParams strips the parameter sets (SPS, PPS and, for H.265,
	// VPS) from the access units sent, so they are only available from the
	// SDP (the other half of real-world behaviour).
	NoInBandParams bool
	// UDP also offers RTP over UDP on two free consecutive ports. Off by
	// default because UDP needs fixed ports and TCP-only cameras can be started
	// by many parallel tests without any chance of a port clash.
	UDP bool
	// Clip, when set, is a raw Annex-B stream of Codec looped instead of
	// the embedded clip (benchmarks at other resolutions, streams with
	// B-frames or long GOPs, H.265). It must start with a keyframe preceded
	// by its parameter sets.
	Clip []byte
	// FPS is the rate Clip is sent at; default the embedded clip's FPS.
	FPS int
	// StampSendTime adds to every access unit, before its first slice, an
	// SEI user_data_unregistered NAL unit carrying the time the unit is
	// sent and its frame number, which ParseSendTime reads back. Benchmarks
	// use it to measure a relay's latency and loss end to end.
	StampSendTime bool
	// Logf, when set, receives the camera's and gortsplib's diagnostics.
	// nil keeps the camera silent; nothing is ever written through package log.
	Logf func(format string, args ...any)
}

// Camera is a running test camera. It is safe for concurrent use.
type Camera struct {
	opts   Options
	server *gortsplib.Server
	stream *gortsplib.ServerStream
	media  *description.Media
	// served is stream once it is initialized: the server already takes
	// connections while Start builds it, and a client that retries fast
	// must be told to come back rather than read a half-made stream.
	served atomic.Pointer[gortsplib.ServerStream]
	addr   string // actual RTSP listen address

	paused        atomic.Bool
	dropEvery     atomic.Int64
	garbageEvery  atomic.Int64
	truncateEvery atomic.Int64
	jitter        atomic.Int64 // nanoseconds
	// other is the clip SetClip switched to, nil for the main clip; seen
	// is what the pacing goroutine last applied.
	other, seen atomic.Pointer[clip]

	mu      sync.Mutex
	playing map[*gortsplib.ServerSession]struct{}
	byeSent bool // SayGoodbye paused the stream until a new session plays
	restart atomic.Bool

	stop      chan struct{}
	done      chan struct{} // closed when the pacing goroutine returns
	closeOnce sync.Once
}

// Start starts a camera: it listens on opts.Addr and publishes the clip at FPS
// frames per second from its own goroutine until Close, whether or not anyone
// is watching (like a real camera, whose encoder never waits for clients).
func Start(opts Options) (*Camera, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Path == "" {
		opts.Path = "/stream"
	}
	if !strings.HasPrefix(opts.Path, "/") {
		opts.Path = "/" + opts.Path
	}
	switch opts.Codec = strings.ToLower(opts.Codec); opts.Codec {
	case "":
		opts.Codec = "h264"
	case "h264", "mjpeg":
	case "h265":
		if opts.Clip == nil {
			return nil, errors.New("testcamera: an h265 camera needs an H.265 Clip (package hevc has one)")
		}
	default:
		return nil, fmt.Errorf("testcamera: unknown codec %q (want h264, h265 or mjpeg)", opts.Codec)
	}
	if opts.StampSendTime && opts.Codec != "h264" {
		return nil, errors.New("testcamera: StampSendTime needs an h264 camera")
	}

	if opts.FPS <= 0 {
		opts.FPS = FPS
	}
	clip, err := parsedClip()
	if opts.Clip != nil {
		clip, err = parseClip(opts.Clip, 0, opts.Codec == "h265")
	}
	if err != nil {
		return nil, err
	}

	c := &Camera{
		opts:    opts,
		playing: make(map[*gortsplib.ServerSession]struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := c.startServer(); err != nil {
		return nil, err
	}

	var v *video
	var forma format.Format = &format.MJPEG{}
	if opts.Codec != "mjpeg" {
		v = newVideo(opts.Codec == "h265")
		if !opts.InBandOnly {
			v.setParams(clip)
		}
		forma = v.format
	}
	c.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	c.stream = &gortsplib.ServerStream{
		Server: c.server,
		Desc:   &description.Session{Medias: []*description.Media{c.media}},
	}
	if err := c.stream.Initialize(); err != nil {
		c.server.Close()
		return nil, fmt.Errorf("testcamera: %w", err)
	}
	c.served.Store(c.stream)

	if v == nil {
		// A camera whose codec edgecam cannot forward only needs to be
		// described; nothing is published.
		close(c.done)
		return c, nil
	}
	enc, err := v.encoder()
	if err != nil {
		c.stream.Close()
		c.server.Close()
		return nil, fmt.Errorf("testcamera: %w", err)
	}
	go c.publish(clip, v, enc)
	return c, nil
}

// video is the camera's video format, H.264 or H.265.
type video struct {
	format format.Format
	h264   *format.H264
	h265   *format.H265
}

func newVideo(h265 bool) *video {
	if h265 {
		f := &format.H265{PayloadTyp: 96}
		return &video{format: f, h265: f}
	}
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	return &video{format: f, h264: f}
}

// encoder is the RTP packetizer of the camera's codec.
type encoder interface {
	Encode(au [][]byte) ([]*rtp.Packet, error)
}

// encoder returns a new packetizer: a new SSRC and sequence numbers.
func (v *video) encoder() (encoder, error) {
	if v.h265 != nil {
		return v.h265.CreateEncoder()
	}
	return v.h264.CreateEncoder()
}

// setParams announces cl's parameter sets in the SDP of later DESCRIBEs.
func (v *video) setParams(cl *clip) {
	if v.h265 != nil {
		v.h265.SafeSetParams(cl.vps, cl.sps, cl.pps)
		return
	}
	v.h264.SafeSetParams(cl.sps, cl.pps)
}

// startServer starts the RTSP server. With UDP it picks an even/odd port pair
// (gortsplib insists on one) and retries when another process wins the race
// for those ports between our probe and the server's bind.
func (c *Camera) startServer() error {
	const udpAttempts = 20
	var lastErr error
	for attempt := 0; attempt < udpAttempts; attempt++ {
		var ln net.Listener
		s := &gortsplib.Server{
			Handler:     &handler{c: c},
			RTSPAddress: c.opts.Addr,
			// Listen captures the listener so Addr can report the real port
			// when opts.Addr asks for port 0.
			Listen: func(network, address string) (net.Listener, error) {
				l, err := net.Listen(network, address)
				ln = l
				return l, err
			},
		}
		if c.opts.UDP {
			rtp, rtcp, err := freeUDPPortPair(c.opts.Addr)
			if err != nil {
				return err
			}
			s.UDPRTPAddress, s.UDPRTCPAddress = rtp, rtcp
		}
		err := s.Start()
		if err == nil {
			c.server = s
			c.addr = ln.Addr().String()
			return nil
		}
		lastErr = err
		// The UDP listeners are bound before the TCP one: a conflict before
		// Listen ran is a lost race for the UDP pair, worth another try.
		if !c.opts.UDP || ln != nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return fmt.Errorf("testcamera: listen on %s: %w", c.opts.Addr, lastErr)
}

// freeUDPPortPair finds an even port p on the host of addr such that p and p+1
// are both free right now, and returns the two addresses.
func freeUDPPortPair(addr string) (rtpAddr, rtcpAddr string, err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("testcamera: bad address %q: %w", addr, err)
	}
	for i := 0; i < 50; i++ {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", "", fmt.Errorf("testcamera: probe UDP port: %w", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if port%2 != 0 {
			port--
		}
		if port < 1024 {
			continue
		}
		rtpAddr = net.JoinHostPort(host, strconv.Itoa(port))
		rtcpAddr = net.JoinHostPort(host, strconv.Itoa(port+1))
		if udpFree(rtpAddr) && udpFree(rtcpAddr) {
			return rtpAddr, rtcpAddr, nil
		}
	}
	return "", "", errors.New("testcamera: no free consecutive UDP port pair")
}

func udpFree(addr string) bool {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

// publish sends one access unit per frame period until Close. Frame n carries
// RTP timestamp base + n*90000/FPS, so timestamps keep rising across clip loops,
// across Pause and across a resolution change, like a real encoder whose clock
// never stops.
func (c *Camera) publish(main *clip, v *video, enc encoder) {
	defer close(c.done)

	tsBase := rand.Uint32()
	var pktCount int64
	fps := int64(c.opts.FPS)
	ticker := time.NewTicker(time.Second / time.Duration(fps))
	defer ticker.Stop()

	cur, pos := main, 0
	au := make([][]byte, 0, 8)
	var stamped [][]byte
	for frame := int64(0); ; frame++ {
		if c.restart.CompareAndSwap(true, false) {
			// A new SSRC, sequence numbers and clock from here on, the
			// clip from its first IDR: what a camera's encoder restart
			// looks like inside an RTSP session that goes on.
			if e, err := v.encoder(); err == nil {
				enc = e
			}
			tsBase = rand.Uint32() - uint32(frame*90000/fps)
			pos = 0
		}
		want := c.other.Load()
		next := want
		if next == nil {
			next = main
		}
		if next != cur {
			// Switch at once, starting the new clip at its first IDR, as a
			// camera does when its encoder is reconfigured.
			cur, pos = next, 0
			if !c.opts.InBandOnly {
				// Clients that DESCRIBE from now on get the new
				// parameters in the SDP too.
				v.setParams(cur)
			}
		}
		c.seen.Store(want)
		if !c.paused.Load() {
			c.delay()
			now := time.Now()
			au = c.accessUnit(au[:0], cur.aus[pos])
			if c.opts.StampSendTime {
				stamped = withSendTime(stamped, au, now, uint64(frame))
				au, stamped = stamped, au
			}
			pkts, err := enc.Encode(au)
			if err != nil {
				c.logf("encode frame %d: %v", frame, err)
			}
			ts := tsBase + uint32(frame*90000/fps)
			for _, pkt := range c.damage(pkts, &pktCount) {
				pkt.Timestamp = ts
				if err := c.stream.WritePacketRTPWithNTP(c.media, pkt, now); err != nil {
					c.logf("write RTP: %v", err)
				}
			}
		}
		// The clip position advances during Pause as well: a hung camera's
		// encoder keeps running, and clients resume mid-GOP.
		pos = (pos + 1) % len(cur.aus)

		select {
		case <-c.stop:
			return
		case <-ticker.C:
		}
	}
}

// delay sleeps for a random part of the jitter set with SetJitter, so frames
// leave the camera irregularly. It sleeps less than a frame period, so the
// camera keeps its frame rate on average.
func (c *Camera) delay() {
	j := time.Duration(c.jitter.Load())
	if j <= 0 {
		return
	}
	select {
	case <-c.stop:
	case <-time.After(rand.N(j)):
	}
}

// damage applies the faults set with SetDropEvery, SetGarbageEvery and
// SetTruncateEvery to one frame's packets, counting packets in *count. It
// never modifies a payload in place: single-NALU payloads share the clip's
// memory.
func (c *Camera) damage(pkts []*rtp.Packet, count *int64) []*rtp.Packet {
	drop, garbage, truncate := c.dropEvery.Load(), c.garbageEvery.Load(), c.truncateEvery.Load()
	if drop <= 0 && garbage <= 0 && truncate <= 0 {
		*count += int64(len(pkts))
		return pkts
	}
	out := pkts[:0]
	for _, pkt := range pkts {
		*count++
		n := *count
		switch {
		case drop > 0 && n%drop == 0:
			continue
		case garbage > 0 && n%garbage == 0:
			// Random bytes of a plausible size: any NALU type, including
			// STAP-A and FU-A headers with nonsense lengths.
			p := make([]byte, 1+rand.IntN(1400))
			for i := range p {
				p[i] = byte(rand.Uint32())
			}
			pkt.Payload = p
		case truncate > 0 && n%truncate == 0 && len(pkt.Payload) > 1:
			// Every other cut leaves a lone FU indicator or NALU header,
			// which a depacketizer must reject, so damage is certain to be
			// seen within a keyframe; the others cut anywhere, which only
			// the decoder of the picture would notice.
			cut := 1
			if (n/truncate)%2 == 0 {
				cut = 1 + rand.IntN(len(pkt.Payload)-1)
			}
			pkt.Payload = pkt.Payload[:cut]
		}
		out = append(out, pkt)
	}
	return out
}

// accessUnit appends to dst the NALUs of src, without parameter sets if the camera
// must not send them in-band.
func (c *Camera) accessUnit(dst [][]byte, src [][]byte) [][]byte {
	for _, nalu := range src {
		if c.opts.NoInBandParams && kindOf(nalu, c.opts.Codec == "h265").param != paramNone {
			continue
		}
		dst = append(dst, nalu)
	}
	return dst
}

// URL returns the URL clients should play, with the credentials (escaped) as
// user-info when the camera requires them. A wildcard listen host is replaced
// by 127.0.0.1 so the URL is always dialable.
func (c *Camera) URL() string {
	host, port, err := net.SplitHostPort(c.addr)
	if err != nil {
		host, port = "127.0.0.1", "0"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	u := url.URL{Scheme: "rtsp", Host: net.JoinHostPort(host, port), Path: c.opts.Path}
	if c.opts.User != "" || c.opts.Pass != "" {
		u.User = url.UserPassword(c.opts.User, c.opts.Pass)
	}
	return u.String()
}

// Addr returns the host:port the camera listens on. Passing it as Options.Addr
// to a later Start brings the "same" camera back after Close.
func (c *Camera) Addr() string {
	return c.addr
}

// Close stops publishing and closes the server and every session, so clients
// see the connection end (EOF) at once, as when a camera is unplugged. It
// waits for the camera's goroutines and frees the address for immediate reuse.
// Calling it more than once is harmless.
func (c *Camera) Close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.stream.Close()
		c.server.Close()
	})
}

// Pause stops sending RTP while keeping every RTSP session open, which is how
// a hung camera looks to a client: it only notices through its read timeout.
func (c *Camera) Pause() {
	c.paused.Store(true)
}

// Resume undoes Pause. The stream continues mid-GOP with timestamps that
// advanced during the pause, so clients must wait for the next IDR.
func (c *Camera) Resume() {
	c.paused.Store(false)
}

// SayGoodbye ends the stream as a camera does when its encoder restarts
// after a settings change: an RTCP BYE to every playing session, then no
// more RTP on them, while their RTSP connections stay open. A session that
// starts playing afterwards gets the stream again.
func (c *Camera) SayGoodbye() {
	c.paused.Store(true)
	c.mu.Lock()
	c.byeSent = true
	c.mu.Unlock()
	if st := c.served.Load(); st != nil {
		if err := st.WritePacketRTCP(c.media, &rtcp.Goodbye{Sources: []uint32{0}}); err != nil {
			c.logf("write RTCP BYE: %v", err)
		}
	}
}

// RestartEncoder restarts the RTP numbering in the middle of the sessions:
// a new SSRC, new sequence numbers and timestamps, the clip from its IDR,
// as a camera's encoder restart without a new RTSP session looks.
func (c *Camera) RestartEncoder() { c.restart.Store(true) }

// SessionCount returns the number of RTSP sessions currently playing, so tests
// can check that a client pulls from the camera only while it has viewers.
func (c *Camera) SessionCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.playing)
}

// SetDropEvery makes the camera silently drop every nth RTP packet it sends, to
// simulate network loss; n <= 0 turns dropping off. With TCP, too, clients see
// the gaps in sequence numbers that real loss over UDP would cause.
func (c *Camera) SetDropEvery(n int) {
	if n < 0 {
		n = 0
	}
	c.dropEvery.Store(int64(n))
}

// SetGarbageEvery replaces the payload of every nth RTP packet with random
// bytes of random length, as a buggy camera or a corrupting link would; n <= 0
// turns it off. Headers (sequence numbers, timestamps) stay valid, so the
// garbage reaches the client's H.264 depacketizer.
func (c *Camera) SetGarbageEvery(n int) {
	c.garbageEvery.Store(int64(max(n, 0)))
}

// SetTruncateEvery cuts every nth RTP packet's payload short, alternately at
// a random point and down to its first byte, leaving FU-A fragments and single
// NAL units truncated; n <= 0 turns it off.
func (c *Camera) SetTruncateEvery(n int) {
	c.truncateEvery.Store(int64(max(n, 0)))
}

// SetJitter delays each frame's packets by a random time up to d before they
// are sent, so frames arrive irregularly; d <= 0 turns it off. d is capped at
// three quarters of a frame period, so the camera keeps its frame rate.
func (c *Camera) SetJitter(d time.Duration) {
	d = min(max(d, 0), time.Second/time.Duration(c.opts.FPS)*3/4)
	c.jitter.Store(int64(d))
}

// SetClip switches the camera, from its next frame, to another raw Annex-B
// clip of its codec with the same frame rate (nil: back to the camera's own), as a
// camera whose encoder is reconfigured switches resolution. The new clip
// starts with SPS, PPS and an IDR unless NoInBandParams is set; timestamps
// continue. The SDP offered to later clients announces the new parameters,
// while sessions already playing keep the SDP they got. It returns once the
// camera has switched (at most a frame period), so a client that connects
// afterwards gets the new SDP, or once the camera is closed.
func (c *Camera) SetClip(data []byte) error {
	var next *clip
	if data != nil {
		var err error
		if next, err = parseClip(data, 0, c.opts.Codec == "h265"); err != nil {
			return err
		}
	}
	c.other.Store(next)
	for c.seen.Load() != next {
		select {
		case <-c.done:
			return nil
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

func (c *Camera) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}

func (c *Camera) setPlaying(ss *gortsplib.ServerSession, playing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if playing {
		c.playing[ss] = struct{}{}
		if c.byeSent { // a new session after SayGoodbye streams again
			c.byeSent = false
			c.paused.Store(false)
		}
	} else {
		delete(c.playing, ss)
	}
}

// handler implements gortsplib's server callbacks. It is separate from Camera
// so that the callbacks don't become part of Camera's exported API. Every
// callback gortsplib would otherwise answer by writing to package log is
// implemented here and routed to Options.Logf.
type handler struct {
	c *Camera
}

// authorize checks credentials when the camera requires them. gortsplib turns
// ErrServerAuth into a 401 carrying the Basic and Digest challenges.
func (h *handler) authorize(sc *gortsplib.ServerConn, req *base.Request) (*base.Response, error) {
	o := h.c.opts
	if o.User == "" && o.Pass == "" {
		return nil, nil
	}
	if !sc.VerifyCredentials(req, o.User, o.Pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	return nil, nil
}

// servedStream answers DESCRIBE and SETUP: 503 until Start has the stream.
func (c *Camera) servedStream() (*base.Response, *gortsplib.ServerStream, error) {
	st := c.served.Load()
	if st == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil,
			fmt.Errorf("testcamera: starting")
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

func (h *handler) checkPath(path string) (*base.Response, error) {
	if path != h.c.opts.Path {
		return &base.Response{StatusCode: base.StatusNotFound},
			fmt.Errorf("testcamera: no stream at path %q (serving %q)", path, h.c.opts.Path)
	}
	return nil, nil
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := h.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	if res, err := h.checkPath(ctx.Path); res != nil {
		return res, nil, err
	}
	return h.c.servedStream()
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := h.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	if res, err := h.checkPath(ctx.Path); res != nil {
		return res, nil, err
	}
	return h.c.servedStream()
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.c.setPlaying(ctx.Session, true)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnPause(ctx *gortsplib.ServerHandlerOnPauseCtx) (*base.Response, error) {
	h.c.setPlaying(ctx.Session, false)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.c.logf("conn opened from %v", ctx.Conn.NetConn().RemoteAddr())
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.c.logf("conn closed from %v: %v", ctx.Conn.NetConn().RemoteAddr(), ctx.Error)
}

func (h *handler) OnSessionOpen(*gortsplib.ServerHandlerOnSessionOpenCtx) {
	h.c.logf("session opened")
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.c.setPlaying(ctx.Session, false)
	h.c.logf("session closed: %v", ctx.Error)
}

func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.c.logf("%d RTP packets lost", ctx.Lost)
}

func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.c.logf("decode error: %v", ctx.Error)
}

func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.c.logf("stream write error: %v", ctx.Error)
}
