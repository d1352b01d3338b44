package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"github.com/edgecam/edgecam/capture/redact"
)

// ProbeResult is what a plant engineer needs to know about one camera URL.
type ProbeResult struct {
	URL       string    // redacted
	Tracks    []string  // e.g. "video H264", "audio MPEG4-audio"
	Transport Transport // the RTSP transport that delivered media: udp or tcp
	// Video facts; zero when the camera offers neither H.264 nor H.265.
	// Codec is the one edgecam pulls (H.264 when the camera offers both).
	Codec            Codec
	Profile          string
	Level            string
	Width, Height    int
	FPS              float64       // from the SPS timing, else measured
	KeyframeInterval time.Duration // measured between IDRs; 0 if fewer than two seen
	GOPFrames        int           // frames from one IDR to the next
	BFrames          bool          // the stream reorders frames (B-frames)
	Bitrate          float64       // bits per second, measured
	Frames           int           // access units received while probing
	// Forwardable says whether edgecam can send the stream to browsers as
	// it is; Problems says why not, or what will play badly.
	Forwardable bool
	Problems    []string
}

// Probe connects to rawURL, plays its video for up to d (stopping earlier
// once two keyframe intervals were measured) and reports what it found.
func Probe(ctx context.Context, rawURL string, transport Transport, d time.Duration) (*ProbeResult, error) {
	res := &ProbeResult{URL: redact.URL(rawURL)}
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	redact := func(err error) error {
		return errors.New(redact.Secrets(err.Error(), rawURL))
	}
	var tr *gortsplib.Transport
	res.Transport = TransportUDP
	switch transport {
	case TransportTCP:
		v := gortsplib.TransportTCP
		tr = &v
		res.Transport = TransportTCP
	case TransportUDP:
		v := gortsplib.TransportUDP
		tr = &v
	}
	var mu sync.Mutex
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	c := &gortsplib.Client{
		Scheme:            u.Scheme,
		Host:              u.Host,
		Transport:         tr,
		ReadTimeout:       5 * time.Second,
		DialContext:       dialer.DialContext,
		UserAgent:         "edgecam-probe",
		OnPacketsLost:     func(uint64) {},
		OnDecodeError:     func(error) {},
		OnTransportSwitch: func(error) { mu.Lock(); res.Transport = TransportTCP; mu.Unlock() },
	}
	if err := c.Start2(); err != nil {
		return nil, redact(fmt.Errorf("connect: %w", err))
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	desc, _, err := c.Describe(u)
	if err != nil {
		return nil, redact(describeError(err))
	}
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			res.Tracks = append(res.Tracks, fmt.Sprintf("%s %s", m.Type, f.Codec()))
		}
	}
	vt, err := pickTrack(desc, CodecAuto)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		return res, nil
	}
	res.Codec = vt.codec
	dec, err := vt.newDecoder()
	if err != nil {
		return nil, fmt.Errorf("%s decoder: %w", vt.codec, err)
	}
	medi, forma := vt.media, vt.format
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return nil, redact(fmt.Errorf("setup: %w", err))
	}

	var (
		st       probeStats
		done     = make(chan struct{})
		doneOnce sync.Once
	)
	st.params = vt.params()
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS2(medi, pkt)
		if !ok {
			return
		}
		nalus, err := dec.decode(pkt)
		if err != nil {
			return
		}
		mu.Lock()
		enough := st.add(nalus, pts, time.Now())
		mu.Unlock()
		if enough {
			doneOnce.Do(func() { close(done) })
		}
	})
	if _, err := c.Play(nil); err != nil {
		return nil, redact(fmt.Errorf("play: %w", err))
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	case err := <-waitErr:
		if st.frames == 0 {
			return nil, redact(fmt.Errorf("stream: %w", err))
		}
	}
	c.Close()

	mu.Lock()
	defer mu.Unlock()
	st.fill(res)
	return res, nil
}

// probeStats measures a stream while probing.
type probeStats struct {
	params      *paramSet
	frames      int
	bytes       int
	first, last time.Time
	firstPTS    int64
	lastPTS     int64
	idrs        []int64 // PTS of IDRs
	idrFrames   []int   // frame index of IDRs
	reordered   bool
	prevPTS     int64
	havePrev    bool
}

// add records one access unit and reports whether enough was seen.
func (s *probeStats) add(nalus [][]byte, pts int64, now time.Time) bool {
	idr, _ := s.params.scan(nalus)
	for _, n := range nalus {
		s.bytes += len(n)
	}
	if s.frames == 0 {
		s.first, s.firstPTS = now, pts
	}
	s.last, s.lastPTS = now, pts
	if s.havePrev && pts < s.prevPTS {
		s.reordered = true
	}
	s.prevPTS, s.havePrev = pts, true
	if idr {
		s.idrs = append(s.idrs, pts)
		s.idrFrames = append(s.idrFrames, s.frames)
	}
	s.frames++
	// Two intervals make a reliable figure; one will do for a long GOP.
	return len(s.idrs) >= 3 || (len(s.idrs) == 2 && s.frames > 50)
}

func (s *probeStats) fill(r *ProbeResult) {
	r.Frames = s.frames
	if s.params.sps != nil {
		s.params.describe(r)
	}
	if s.reordered {
		r.BFrames = true
	}
	if span := s.last.Sub(s.first); span > 0 && s.frames > 1 {
		if r.FPS == 0 {
			r.FPS = float64(s.frames-1) / span.Seconds()
		}
		r.Bitrate = float64(s.bytes*8) / span.Seconds()
	}
	if n := len(s.idrs); n >= 2 {
		r.KeyframeInterval = time.Duration(s.idrs[n-1]-s.idrs[n-2]) * time.Second / 90000
		r.GOPFrames = s.idrFrames[n-1] - s.idrFrames[n-2]
	}

	r.Forwardable = s.frames > 0 && s.params.sps != nil
	if s.frames == 0 {
		r.Problems = append(r.Problems, "no video arrived while probing")
	}
	if r.BFrames {
		r.Forwardable = false
		r.Problems = append(r.Problems, "the stream has B-frames, which browsers' WebRTC decoders do not reorder: turn them off in the camera's encoder settings")
	}
	if r.KeyframeInterval > 3*time.Second {
		r.Problems = append(r.Problems, fmt.Sprintf("keyframe interval %s: JPEG snapshots and recovery after loss wait that long; set the camera's I-frame interval to 1–2 s", r.KeyframeInterval.Round(100*time.Millisecond)))
	}
	if s.params.codec == CodecH265 {
		r.Problems = append(r.Problems, "H.265 plays over WebRTC only in browsers that decode it (Safari, Chrome or Edge with hardware H.265); the others get the JPEG stream, decoded on this box. Switch the camera to H.264 for WebRTC in every browser")
	}
	if len(s.idrs) < 2 && s.frames > 0 {
		r.Problems = append(r.Problems, "fewer than two keyframes seen: the keyframe interval is longer than the probe, or unknown")
	}
}

// describe fills r's picture facts from the SPS.
func (p *paramSet) describe(r *ProbeResult) {
	r.Width, r.Height, r.BFrames = p.width, p.height, p.reorders
	if p.codec == CodecH265 {
		var sps h265.SPS
		if err := sps.Unmarshal(p.sps); err == nil {
			r.FPS = sps.FPS()
			r.Profile = profileName265(sps.ProfileTierLevel.GeneralProfileIdc)
			// general_level_idc is 30 times the level number.
			r.Level = fmt.Sprintf("%d.%d", sps.ProfileTierLevel.GeneralLevelIdc/30, sps.ProfileTierLevel.GeneralLevelIdc%30/3)
		}
		return
	}
	var sps h264.SPS
	if err := sps.Unmarshal(p.sps); err == nil {
		r.FPS = sps.FPS()
		r.Profile = profileName(sps.ProfileIdc)
		r.Level = fmt.Sprintf("%d.%d", sps.LevelIdc/10, sps.LevelIdc%10)
	}
}

func profileName265(idc uint8) string {
	switch idc {
	case 1:
		return "Main"
	case 2:
		return "Main 10"
	case 3:
		return "Main Still Picture"
	case 4:
		return "Range Extensions"
	}
	return fmt.Sprintf("general_profile_idc %d", idc)
}

func profileName(idc uint8) string {
	switch idc {
	case 66:
		return "Baseline"
	case 77:
		return "Main"
	case 88:
		return "Extended"
	case 100:
		return "High"
	case 110:
		return "High 10"
	case 122:
		return "High 4:2:2"
	case 244:
		return "High 4:4:4"
	}
	return fmt.Sprintf("profile_idc %d", idc)
}
