// Package capture pulls H.264 and H.265 from RTSP cameras.
//
// One Camera owns one RTSP client session at a time and reconnects forever with
// capped exponential backoff. It hands complete access units, with the
// parameter sets (SPS and PPS; VPS, SPS and PPS for H.265) in front of every
// keyframe, to the Sink it is given; it knows nothing about viewers or
// protocols downstream.
package capture

import (
	"time"
)

// Transport is how RTP reaches edgecam from the camera.
type Transport string

// Transports.
const (
	// TransportAuto tries UDP and switches to TCP (interleaved in the RTSP
	// connection) when no packet arrives.
	TransportAuto Transport = "auto"
	TransportTCP  Transport = "tcp"
	TransportUDP  Transport = "udp"
)

// Codec names a video codec as the API shows it.
type Codec string

// Codecs. In a Config, the empty Codec means "auto": H.264 when the camera
// offers it, else H.265.
const (
	CodecAuto Codec = ""
	CodecH264 Codec = "H264"
	CodecH265 Codec = "H265"
)

// Defaults of Config's zero values. They live here only: the configuration
// file leaves these settings zero when they are not written.
const (
	DefaultTransport      = TransportAuto
	DefaultConnectTimeout = 5 * time.Second
	DefaultReadTimeout    = 5 * time.Second
	DefaultStaleAfter     = 2 * time.Second
	defaultMinBackoff     = time.Second
	defaultMaxBackoff     = 30 * time.Second
)

// Config describes one camera. The zero value of every field but Name and
// URL means its default (see above).
type Config struct {
	// Name identifies the camera in logs and errors.
	Name string
	// URL is the rtsp:// or rtsps:// address, credentials in the user-info.
	URL string
	// Transport is auto (UDP, switching to TCP when nothing arrives), tcp or
	// udp.
	Transport Transport
	// ConnectTimeout bounds the TCP dial and each RTSP request.
	ConnectTimeout time.Duration
	// ReadTimeout is how long the camera may send no media before it counts
	// as stalled and is reconnected.
	ReadTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts; the wait
	// doubles from one to the other and starts again after a healthy session.
	MinBackoff, MaxBackoff time.Duration
	// StaleAfter is how long a streaming camera may deliver no frame before
	// its state reads stale (the RTSP session is up, the picture is not
	// moving).
	StaleAfter time.Duration
	// Codec is the codec to pull from a camera that offers several; empty
	// (CodecAuto) takes H.264 when offered, because every browser plays it
	// over WebRTC, and H.265 otherwise.
	Codec Codec
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Transport == "" {
		c.Transport = DefaultTransport
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = defaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = defaultMaxBackoff
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	return c
}

// AccessUnit is one H.264 or H.265 access unit as the camera sent it.
type AccessUnit struct {
	// Codec is CodecH264 or CodecH265.
	Codec Codec
	// NALUs without start codes. An IDR access unit always starts with the
	// current parameter sets (H.264: SPS, PPS; H.265: VPS, SPS, PPS),
	// whether or not the camera sent them in-band.
	NALUs [][]byte
	// PTS is the presentation time in 90 kHz units on the timeline of the
	// current RTSP session; it restarts when Session changes.
	PTS int64
	// IDR is true when the unit can start decoding: an H.264 IDR, an H.265
	// IRAP picture (IDR, CRA or BLA).
	IDR bool
	// Session counts RTSP sessions: a new value means a reconnect happened
	// and timestamps are not continuous with the previous unit.
	Session uint64
	// Received is when the last packet of the unit arrived.
	Received time.Time
}

// Sink receives access units. WriteAccessUnit is called on the RTSP reader
// goroutine: it must not block, and it must not keep au or its NALUs after it
// returns, because their memory belongs to the RTSP client.
type Sink interface {
	WriteAccessUnit(au *AccessUnit)
}

// State is where a camera is in its connection lifecycle.
type State string

// Camera states, as shown in the API.
const (
	StateIdle        State = "idle"        // not pulled (on-demand camera with no viewer)
	StateConnecting  State = "connecting"  // an RTSP session is being set up
	StateStreaming   State = "streaming"   // video arrives
	StateStale       State = "stale"       // the session is up but no frame came for StaleAfter
	StateRetrying    State = "retrying"    // the last attempt failed; waiting to try again
	StateUnsupported State = "unsupported" // the camera offers neither H.264 nor H.265 (or not the one configured)
)

// States lists every State, for metrics that export one series per state.
func States() []State {
	return []State{StateIdle, StateConnecting, StateStreaming, StateStale, StateRetrying, StateUnsupported}
}

// Status is a snapshot of a camera's health.
type Status struct {
	State      State
	LastError  string // redacted: never contains the URL's password
	Codec      Codec
	Width      int
	Height     int
	FPS        float64 // measured over the last second
	Bitrate    float64 // bits per second, measured over the last second
	Reconnects uint64  // sessions started after the first one
	Since      time.Time
	// Reason is the kind of the outage's latest failure, ReasonNoVideo
	// while stale; ReasonNone while frames flow.
	Reason Reason
	// Down is when the camera stopped delivering video: its first failure
	// or stale moment since it last streamed (zero while it streams or is
	// idle). Attempts in between (connecting) do not reset it.
	Down time.Time
	// NextRetry is when the next attempt starts, while the camera waits
	// for it (retrying, unsupported); zero otherwise.
	NextRetry time.Time
	// Address is the host:port the camera is dialled at, without the URL's
	// user or password.
	Address string

	// Counters since the camera was created.
	Frames       uint64 // access units delivered
	Bytes        uint64 // bytes of those access units
	PacketsLost  uint64 // RTP packets the camera sent that never arrived
	DecodeErrors uint64 // frames dropped because their packets were broken

	LastFrame        time.Time     // when the last access unit arrived
	KeyframeInterval time.Duration // measured between the last two IDRs
	GOPFrames        int           // frames from one IDR to the next
	BFrames          bool          // the SPS allows frame reordering
	// Warnings say why the stream will play badly even though it flows.
	Warnings []string
}

// Thresholds for warnings about a stream that flows but plays badly.
const (
	// WarnKeyframeInterval: new viewers of an on-demand camera, JPEG
	// snapshots and recovery after loss wait up to one keyframe interval.
	WarnKeyframeInterval = 4 * time.Second
	// WarnBitrate: more than an edge box's Wi-Fi viewers and CPU can carry
	// for one camera.
	WarnBitrate = 16e6
)
