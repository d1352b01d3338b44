// Package whepclient is a WHEP player without a browser: it posts an offer,
// receives the H.264 or H.265 track and hands out access units. edgecam's
// tests and benchmarks use it as the viewer; a vision pipeline can use it
// to take the camera's video without decoding JPEG.
package whepclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

const (
	// nackInterval is how often the player asks for missing packets.
	nackInterval = 20 * time.Millisecond
	// reorderWait is how long it holds packets behind a missing one: time
	// for several NACKs and their resends on a LAN.
	reorderWait = 150 * time.Millisecond
)

// receiveBuffer is the player's UDP receive buffer. A camera's IDR leaves
// the daemon as one burst (at 1080p 4 Mbit/s, 100-200 packets), and the
// kernel's default (rmem_default, 208 KB, about 90 such packets once the
// kernel's own overhead is counted) dropped part of it at the player's
// socket: a NACK round trip for every IDR. WebRTC receivers (browsers,
// SFUs) raise theirs for the same reason. The kernel caps it at
// net.core.rmem_max.
const receiveBuffer = 1 << 20

// roomyNet is the standard network with receiveBuffer on every UDP socket
// ICE opens.
type roomyNet struct{ *stdnet.Net }

func (n roomyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if u, ok := c.(*net.UDPConn); ok && err == nil {
		_ = u.SetReadBuffer(receiveBuffer)
	}
	return c, err
}

// Options configure a Client. The zero value uses every interface.
type Options struct {
	// Interfaces limits ICE to these interface names (tests pass "lo").
	Interfaces []string
	// HTTPClient posts the offer; nil means http.DefaultClient.
	HTTPClient *http.Client
	// QueueLen is how many access units may wait unread before new ones are
	// dropped. Default 256.
	QueueLen int
	// Codecs are the video codecs offered, webrtc.MimeTypeH264 and
	// webrtc.MimeTypeH265 (in the formats browsers offer them); empty
	// offers every codec pion knows, both of those included.
	Codecs []string
	// KernelReceiveBuffer keeps the kernel's default UDP receive buffer
	// (net.core.rmem_default, 208 KB on most systems) instead of raising
	// it to 1 MB: a receiver that drains its socket no faster and holds
	// no more than a plain socket does, to test what a sender's burst
	// does to it.
	KernelReceiveBuffer bool
}

// AccessUnit is one received access unit.
type AccessUnit struct {
	// Codec is the track's MIME type: webrtc.MimeTypeH264 or MimeTypeH265.
	Codec    string
	NALUs    [][]byte
	TS       uint32 // RTP timestamp, 90 kHz
	Received time.Time
}

// Client is one WHEP session.
type Client struct {
	pc       *webrtc.PeerConnection
	location string
	answer   string
	http     *http.Client
	units    chan AccessUnit

	mu        sync.Mutex
	state     webrtc.PeerConnectionState
	connected time.Time
	dropped   int
	lost      int
	missed    int
	wg        sync.WaitGroup
	closed    chan struct{}
	closeErr  sync.Once
}

// Dial posts an offer to endpoint (http://host:port/cameras/NAME/whep) and
// returns once the answer is applied. Media arrives on Units.
func Dial(ctx context.Context, endpoint string, opts Options) (*Client, error) {
	if opts.QueueLen <= 0 {
		opts.QueueLen = 256
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	m, err := mediaEngine(opts.Codecs)
	if err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	// NACKs go out every 20 ms, as a browser's do on a LAN, and cover a
	// whole IDR burst; pion's defaults (100 ms, 512 packets) would leave a
	// joining player waiting for a lost packet of the first IDR.
	nackOpts := webrtc.WithNackGeneratorOptions(nack.GeneratorInterval(nackInterval), nack.GeneratorSize(reorderSlots))
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, ir, nackOpts); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}}
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	if opts.KernelReceiveBuffer {
		se.SetNet(std)
	} else {
		se.SetNet(roomyNet{std})
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	if len(opts.Interfaces) > 0 {
		ifaces := slices.Clone(opts.Interfaces)
		se.SetInterfaceFilter(func(name string) bool { return slices.Contains(ifaces, name) })
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &Client{pc: pc, http: opts.HTTPClient, units: make(chan AccessUnit, opts.QueueLen), closed: make(chan struct{})}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		pc.Close()
		return nil, err
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.mu.Lock()
		c.state = s
		if s == webrtc.PeerConnectionStateConnected && c.connected.IsZero() {
			c.connected = time.Now()
		}
		c.mu.Unlock()
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		c.wg.Add(1)
		defer c.wg.Done()
		c.readTrack(tr, recv)
	})

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		pc.Close()
		return nil, ctx.Err()
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		pc.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := c.http.Do(req)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("post offer: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		pc.Close()
		return nil, &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	loc, err := resolve(endpoint, resp.Header.Get("Location"))
	if err != nil {
		pc.Close()
		return nil, err
	}
	c.location = loc
	c.answer = string(body)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		c.Close()
		return nil, fmt.Errorf("apply answer: %w", err)
	}
	return c, nil
}

// mediaEngine knows codecs, or pion's defaults when there are none.
func mediaEngine(codecs []string) (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if len(codecs) == 0 {
		return m, m.RegisterDefaultCodecs()
	}
	for _, c := range codecs {
		p := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c, ClockRate: 90000}}
		switch {
		case strings.EqualFold(c, webrtc.MimeTypeH264):
			p.SDPFmtpLine, p.PayloadType = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 102
		case strings.EqualFold(c, webrtc.MimeTypeH265):
			p.SDPFmtpLine, p.PayloadType = "level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST", 116
		default:
			return nil, fmt.Errorf("whep: codec %q: want %s or %s", c, webrtc.MimeTypeH264, webrtc.MimeTypeH265)
		}
		if err := m.RegisterCodec(p, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// StatusError is a WHEP endpoint's refusal.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("whep: %d: %s", e.Code, e.Body) }

func resolve(base, loc string) (string, error) {
	if loc == "" {
		return "", errors.New("whep: answer has no Location header")
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	l, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("whep: bad Location %q: %w", loc, err)
	}
	return b.ResolveReference(l).String(), nil
}

func (c *Client) readTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	// Drain RTCP so interceptors keep working.
	go func() {
		for {
			if _, _, err := recv.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	// Ask for a keyframe as browsers do on start.
	_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})

	codec := tr.Codec().MimeType
	dec, err := newDecoder(codec)
	if err != nil {
		return
	}
	// damaged is set while the packets of an access unit that lost one
	// arrive: it is dropped whole, as a browser drops a frame it cannot
	// decode, rather than handed out with a hole.
	damaged := false
	r := &reorder{maxWait: reorderWait}
	emit := func(pkt *rtp.Packet, afterGap bool) {
		if afterGap {
			// The reorder buffer only gives up on packets that have a
			// packet behind them, so the count changes only here; it is
			// published before any frame behind the gap is handed out, so
			// a caller that has that frame also sees the loss.
			c.mu.Lock()
			c.lost = r.lost
			c.mu.Unlock()
			// Whatever the depacketizer holds lacks the lost packets.
			dec, _ = newDecoder(codec)
			damaged = true
		}
		if damaged {
			damaged = !pkt.Marker
			return
		}
		nalus, err := dec(pkt)
		if err != nil {
			return
		}
		au := AccessUnit{Codec: codec, NALUs: cloneNALUs(nalus), TS: pkt.Timestamp, Received: time.Now()}
		select {
		case c.units <- au:
		default:
			c.mu.Lock()
			c.dropped++
			c.mu.Unlock()
		}
	}
	var deadline time.Time // the track's read deadline as last set
	for {
		// While packets are held for a missing one, the read times out
		// when the wait is over, so a stream that pauses after a loss
		// still releases them.
		next, ok := r.deadline()
		if !ok {
			next = time.Time{}
		}
		if !next.Equal(deadline) {
			_ = tr.SetReadDeadline(next)
			deadline = next
		}
		pkt, _, err := tr.ReadRTP()
		var ne net.Error
		switch {
		case err == nil:
			missed := r.missed
			r.push(pkt, time.Now(), emit)
			if r.missed != missed {
				c.mu.Lock()
				c.missed = r.missed
				c.mu.Unlock()
			}
		case errors.As(err, &ne) && ne.Timeout():
			r.expire(time.Now(), emit)
		default:
			return
		}
	}
}

// newDecoder returns the depacketizer of a track's codec.
func newDecoder(mime string) (func(*rtp.Packet) ([][]byte, error), error) {
	if strings.EqualFold(mime, webrtc.MimeTypeH265) {
		d := &rtph265.Decoder{}
		return d.Decode, d.Init()
	}
	d := &rtph264.Decoder{}
	return d.Decode, d.Init()
}

func cloneNALUs(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, n := range in {
		out[i] = bytes.Clone(n)
	}
	return out
}

// Units delivers received access units in order. It is never closed; select
// on it with a timeout.
func (c *Client) Units() <-chan AccessUnit { return c.units }

// Location is the session URL the server returned.
func (c *Client) Location() string { return c.location }

// Answer is the SDP answer the server returned.
func (c *Client) Answer() string { return c.answer }

// State is the PeerConnection's current state.
func (c *Client) State() webrtc.PeerConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// ConnectedAt returns when the PeerConnection first reached "connected"
// (ICE and DTLS done); zero before.
func (c *Client) ConnectedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// Lost returns how many RTP packets were missing so far: lost and not
// resent in time.
func (c *Client) Lost() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// Missed returns how many RTP packets were missing when a later one
// arrived: every packet lost on the way, whether a NACK got it resent in
// time or not (Lost counts those it did not).
func (c *Client) Missed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.missed
}

// Close sends DELETE to the session URL and closes the PeerConnection.
func (c *Client) Close() error {
	var err error
	c.closeErr.Do(func() {
		if c.location != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, c.location, nil)
			if resp, e := c.http.Do(req); e == nil {
				resp.Body.Close()
			} else {
				err = e
			}
			cancel()
		}
		if e := c.pc.Close(); e != nil && err == nil {
			err = e
		}
		close(c.closed)
	})
	return err
}

// Abandon closes the PeerConnection without telling the server, like a
// browser tab that crashed.
func (c *Client) Abandon() {
	c.closeErr.Do(func() {
		_ = c.pc.GracefulClose()
		close(c.closed)
	})
}
