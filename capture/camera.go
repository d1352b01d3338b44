package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/edgecam/edgecam/capture/redact"
)

// healthyAfter is how long a session must stream before the backoff starts
// again from MinBackoff: a camera that flaps every few seconds should not be
// hammered, one that ran for a while and then rebooted should come back fast.
const healthyAfter = 10 * time.Second

// ErrStreamEnded is a session the camera ended itself (RTCP BYE); the
// next one starts after the minimum backoff, however short the last was.
var ErrStreamEnded = errors.New("the camera ended the stream (RTCP BYE)")

// Camera pulls one RTSP camera. Create it with New and call Run.
type Camera struct {
	cfg  Config
	sink Sink
	log  *slog.Logger

	sessions atomic.Uint64
	pacer    *readPacer
	// changed is signalled (coalesced) when State or Reconnects changes.
	changed chan struct{}
	// stale mirrors status.State == StateStale for the reader's hot path.
	stale atomic.Bool
	// retry wakes Run from its wait between attempts (RetryNow); one
	// buffered signal, so a caller never blocks.
	retry chan struct{}

	mu         sync.Mutex
	status     Status
	rate       rateWindow
	lastIDRPTS *int64 // PTS of the last IDR in this session
	sinceIDR   int    // frames since it
	warned     map[string]bool
}

// New returns a Camera that will deliver access units to sink. log should
// already carry the camera's name.
func New(cfg Config, sink Sink, log *slog.Logger) *Camera {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Camera{
		cfg:     cfg,
		sink:    sink,
		log:     log,
		status:  Status{State: StateIdle, Since: time.Now(), Address: address(cfg.URL)},
		pacer:   newReadPacer(),
		changed: make(chan struct{}, 1),
		retry:   make(chan struct{}, 1),
	}
}

// Changed is signalled, coalesced, whenever the camera's State or its
// Reconnects count changes; read Status for the new values. It lets the
// owner publish health changes as they happen instead of polling.
func (c *Camera) Changed() <-chan struct{} { return c.changed }

func (c *Camera) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// SetUnwatched tells the camera whether anyone consumes its frames right
// now. An unwatched camera over RTSP/TCP is read in batches of about 32 KB,
// at most 100 ms apart, instead of at every packet, since waking for every
// packet is what pulling it costs most; frames still reach the Sink, at most
// that much later. A
// call with false ends a batch wait at once.
func (c *Camera) SetUnwatched(unwatched bool) { c.pacer.setIdle(unwatched) }

// Name returns the camera's name.
func (c *Camera) Name() string { return c.cfg.Name }

// Status returns a snapshot of the camera's health.
func (c *Camera) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	if s.State == StateStreaming {
		s.FPS, s.Bitrate = c.rate.read(time.Now())
	} else {
		s.FPS, s.Bitrate = 0, 0
	}
	s.Warnings = warnings(s)
	c.logNewWarnings(s.Warnings)
	return s
}

// warnings lists what will make a flowing stream play badly.
func warnings(s Status) []string {
	var w []string
	if s.BFrames {
		w = append(w, "the stream has B-frames: browsers' WebRTC decoders do not reorder frames, so video stutters; turn B-frames off in the camera")
	}
	if s.KeyframeInterval > WarnKeyframeInterval {
		w = append(w, fmt.Sprintf("keyframe interval %s: snapshots, on-demand starts and recovery after loss wait that long; set the camera's I-frame interval to 1–2 s",
			s.KeyframeInterval.Round(100*time.Millisecond)))
	}
	if s.Bitrate > WarnBitrate {
		w = append(w, fmt.Sprintf("bitrate %.0f Mbit/s is high for an edge box and Wi-Fi viewers; use the camera's sub stream or lower its bitrate", s.Bitrate/1e6))
	}
	return w
}

// logNewWarnings logs each kind of warning once per camera. c.mu is held.
func (c *Camera) logNewWarnings(ws []string) {
	for _, w := range ws {
		key := w
		if i := strings.IndexAny(w, ":0123456789"); i > 0 {
			key = w[:i] // one line per kind, not per measured value
		}
		if c.warned == nil {
			c.warned = map[string]bool{}
		}
		if !c.warned[key] {
			c.warned[key] = true
			c.log.Warn("camera stream will play badly", "warning", w)
		}
	}
}

// Run pulls the camera until ctx ends, reconnecting forever. It returns nil
// when ctx is done; it never gives up on its own.
func (c *Camera) Run(ctx context.Context) error {
	defer c.setState(StateIdle, "")
	backoff := c.cfg.MinBackoff
	for {
		// A RetryNow that came while no wait was pending is answered by
		// this attempt itself.
		select {
		case <-c.retry:
		default:
		}
		c.setState(StateConnecting, "")
		start := time.Now()
		streamed, err := c.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("session ended")
		}
		if streamed && (time.Since(start) >= healthyAfter || errors.Is(err, ErrStreamEnded)) {
			backoff = c.cfg.MinBackoff
		}
		wait := backoff
		state := StateRetrying
		var unsupported *UnsupportedCodecError
		if errors.As(err, &unsupported) {
			// A camera that offers the wrong codec will not fix itself soon;
			// ask again rarely in case someone reconfigures it.
			state = StateUnsupported
			wait = c.cfg.MaxBackoff
		}
		msg := c.redact(err.Error())
		wait = jitter(wait)
		c.fail(state, msg, classify(err), time.Now().Add(wait))
		c.log.Warn("camera unavailable", "state", state, "error", msg, "retry_in", wait.Round(time.Millisecond))

		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-c.retry:
			t.Stop()
			c.log.Info("camera retried at once on request")
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

// RetryNow ends the camera's wait before its next attempt, so that it tries
// at once instead of when its backoff runs out, and reports whether the
// camera was waiting or connecting (false: it streams, or is not pulled).
// It never blocks.
func (c *Camera) RetryNow() bool {
	c.mu.Lock()
	st := c.status.State
	c.mu.Unlock()
	switch st {
	case StateRetrying, StateUnsupported, StateConnecting:
	default:
		return false
	}
	select {
	case c.retry <- struct{}{}:
	default:
	}
	return true
}

// UnsupportedCodecError says the camera offers no video edgecam can
// forward, or not the codec its configuration asks for.
type UnsupportedCodecError struct {
	Offered []string
	// Want is the codec the configuration asks for; empty for either.
	Want Codec
}

func (e *UnsupportedCodecError) Error() string {
	if len(e.Offered) == 0 {
		return "camera offers no video track; edgecam forwards H264 and H265"
	}
	offered := strings.Join(e.Offered, ", ")
	if e.Want != CodecAuto {
		return fmt.Sprintf("camera offers %s, not the %s its configuration asks for: set codec: auto, or switch the camera's stream to %s",
			offered, e.Want, e.Want)
	}
	return fmt.Sprintf("camera offers %s; edgecam forwards H264 and H265: switch the camera's main or sub stream to one of them", offered)
}

// runSession runs one RTSP session until it fails or ctx ends. streamed
// reports whether at least one access unit was delivered.
func (c *Camera) runSession(ctx context.Context) (streamed bool, err error) {
	u, err := base.ParseURL(c.cfg.URL)
	if err != nil {
		return false, fmt.Errorf("parse url: %w", err)
	}

	var transport *gortsplib.Transport
	switch c.cfg.Transport {
	case TransportTCP:
		v := gortsplib.TransportTCP
		transport = &v
	case TransportUDP:
		v := gortsplib.TransportUDP
		transport = &v
	}

	lost := newRateLog(c.log, "rtp packets lost", 10*time.Second)
	decodeErrs := newRateLog(c.log, "frames dropped (broken packets)", 10*time.Second)
	dialer := &net.Dialer{Timeout: c.cfg.ConnectTimeout}
	client := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		Transport:    transport,
		ReadTimeout:  c.cfg.ReadTimeout,
		WriteTimeout: c.cfg.ConnectTimeout,
		DialContext:  dialReadAhead(dialer.DialContext, c.pacer),
		UserAgent:    "edgecam",
		// The defaults print through the standard logger; route them
		// through slog, rate-limited, because a lossy link reports every packet.
		OnPacketsLost: func(n uint64) {
			c.addCounts(n, 0)
			lost.add(n, "")
		},
		OnDecodeError: func(err error) {
			c.addCounts(0, 1)
			decodeErrs.add(1, c.redact(err.Error()))
		},
		OnTransportSwitch: func(err error) {
			c.log.Info("switching rtsp transport to tcp", "reason", c.redact(err.Error()))
		},
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := client.Start2(); err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer client.Close()
	// Describe, Setup, Play and Wait block; closing the client is the only
	// way to interrupt them.
	stop := context.AfterFunc(ctx, client.Close)
	defer stop()

	desc, _, err := client.Describe(u)
	if err != nil {
		return false, describeError(err)
	}

	tr, err := pickTrack(desc, c.cfg.Codec)
	if err != nil {
		return false, err
	}
	dec, err := tr.newDecoder()
	if err != nil {
		return false, fmt.Errorf("%s decoder: %w", tr.codec, err)
	}
	medi, forma := tr.media, tr.format
	if _, err := client.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}

	session := c.sessions.Add(1)
	if session > 1 {
		c.mu.Lock()
		c.status.Reconnects++
		c.mu.Unlock()
		c.signal()
	}
	r := &reader{cam: c, session: session, params: tr.params(), dec: dec}
	r.lastUnit.Store(time.Now().UnixNano())

	c.onSessionStarted(r.params)
	c.mu.Lock()
	c.lastIDRPTS, c.sinceIDR = nil, 0 // PTS restart with each session
	c.mu.Unlock()
	client.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ok := client.PacketPTS2(medi, pkt)
		if !ok {
			return
		}
		r.handle(pkt, pts, decodeErrs)
	})
	// A camera that ends its stream (an encoder restarting after a
	// settings change) says so with an RTCP BYE and may keep the
	// connection open: the session ends at once instead of when the read
	// timeout runs out, and the next one starts after the minimum backoff.
	var bye atomic.Bool
	client.OnPacketRTCP(medi, func(pkt rtcp.Packet) {
		if _, ok := pkt.(*rtcp.Goodbye); ok && bye.CompareAndSwap(false, true) {
			go client.Close() // not from the reading goroutine it waits for
		}
	})
	if _, err := client.Play(nil); err != nil {
		return false, fmt.Errorf("play: %w", err)
	}
	c.pacer.playing.Store(true)
	defer c.pacer.playing.Store(false)
	c.log.Info("camera connected", "session", session, "transport", c.cfg.Transport)

	// gortsplib's ReadTimeout catches a camera that sends nothing; this
	// catches one that sends packets nobody can decode into pictures, and
	// marks a camera stale that delivers no frame for StaleAfter.
	var stalled error
	watchDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stalled = c.watchSession(r, client, watchDone)
	}()

	err = client.Wait()
	close(watchDone)
	wg.Wait()
	if stalled != nil {
		err = stalled
	}
	if bye.Load() {
		return r.delivered.Load(), ErrStreamEnded
	}
	return r.delivered.Load(), fmt.Errorf("stream: %w", err)
}

// watchSession ends a session that delivers no access unit for twice the
// read timeout, returning why, and marks the camera stale while it delivers
// none for StaleAfter. It returns nil when done is closed. One timer,
// re-armed for the next deadline whenever it fires, wakes it about once per
// StaleAfter.
func (c *Camera) watchSession(r *reader, client *gortsplib.Client, done <-chan struct{}) error {
	limit := 2 * c.cfg.ReadTimeout
	t := time.NewTimer(min(limit, c.cfg.StaleAfter))
	defer t.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-t.C:
		}
		idle := time.Since(time.Unix(0, r.lastUnit.Load()))
		if idle > limit {
			client.Close()
			return fmt.Errorf("%w for %s", errNoVideo, idle.Round(time.Second))
		}
		next := min(limit-idle, c.cfg.StaleAfter-idle)
		if idle >= c.cfg.StaleAfter {
			// A camera that has not streamed yet is not stale; look again
			// in case its first frame comes now.
			c.markStale()
			next = min(limit-idle, c.cfg.StaleAfter)
		}
		t.Reset(next + time.Millisecond)
	}
}

func describeError(err error) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) && bad.Code == base.StatusUnauthorized {
		return fmt.Errorf("describe: %w", errUnauthorized)
	}
	if errors.As(err, &bad) && bad.Code == base.StatusNotFound {
		return fmt.Errorf("describe: %w", errNoPath)
	}
	return fmt.Errorf("describe: %w", err)
}

func offeredCodecs(desc *description.Session) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range desc.Medias {
		if m.Type != description.MediaTypeVideo {
			continue
		}
		for _, f := range m.Formats {
			if name := f.Codec(); !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

func (c *Camera) addCounts(lost, decodeErrors uint64) {
	c.mu.Lock()
	c.status.PacketsLost += lost
	c.status.DecodeErrors += decodeErrors
	c.mu.Unlock()
}

func (c *Camera) onSessionStarted(p *paramSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Codec = p.codec
	if p.width > 0 {
		c.status.Width, c.status.Height = p.width, p.height
		c.status.BFrames = p.reorders
	}
}

func (c *Camera) setState(s State, lastErr string) {
	c.mu.Lock()
	changed := c.status.State != s
	if changed {
		if s == StateStreaming && c.status.State != StateStale {
			c.rate = rateWindow{}
		}
		c.status.State = s
		c.status.Since = time.Now()
		c.stale.Store(s == StateStale)
		c.status.NextRetry = time.Time{}
		switch s {
		case StateStreaming, StateIdle:
			// Only frames flowing end an outage; a new attempt
			// (connecting) does not, so that whoever shows the camera
			// holds one state through the attempts of an outage.
			c.status.Down, c.status.Reason = time.Time{}, ReasonNone
		case StateStale:
			c.status.Reason = ReasonNoVideo
			if c.status.Down.IsZero() {
				c.status.Down = c.status.Since
			}
		}
	}
	if lastErr != "" {
		c.status.LastError = lastErr
	}
	c.mu.Unlock()
	if changed {
		c.signal()
	}
}

// fail records a failed attempt: the state to wait in, the redacted error,
// its kind and when the next attempt starts.
func (c *Camera) fail(s State, msg string, reason Reason, next time.Time) {
	c.setState(s, msg)
	c.mu.Lock()
	if c.status.Down.IsZero() {
		c.status.Down = c.status.Since
	}
	c.status.Reason = reason
	c.status.NextRetry = next
	c.mu.Unlock()
	c.signal()
}

// markStale turns a streaming camera stale: its session is up, but no frame
// came for StaleAfter.
func (c *Camera) markStale() {
	c.mu.Lock()
	streaming := c.status.State == StateStreaming
	c.mu.Unlock()
	if streaming {
		c.setState(StateStale, "")
	}
}

// redact removes the URL's credentials from text that may quote it, such as
// errors from the RTSP library.
func (c *Camera) redact(s string) string {
	return redact.Secrets(s, c.cfg.URL)
}

// jitter spreads retries of cameras that failed together (a switch reboot)
// over ±20 % so they do not reconnect in lockstep.
func jitter(d time.Duration) time.Duration {
	f := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * f)
}
