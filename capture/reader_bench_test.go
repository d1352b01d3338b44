package capture

import (
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/pion/rtp"
)

// discardSink drops every unit, so the benchmark measures only the reader.
type discardSink struct{}

func (discardSink) WriteAccessUnit(*AccessUnit) {}

// BenchmarkReaderHandle measures the per-packet path from an RTP packet off
// the RTSP connection to an access unit handed to the sink: depacketizing
// (FU-A reassembly), NALU inspection and parameter tracking. One op is one
// access unit of the test clip (640x360) in RTP packets as a camera sends them.
func BenchmarkReaderHandle(b *testing.B) {
	aus := testcamera.AccessUnits()
	sps, pps := testcamera.Params()
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		b.Fatal(err)
	}
	frames := make([][]*rtp.Packet, len(aus))
	bytes := 0
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			b.Fatal(err)
		}
		frames[i] = pkts
		for _, p := range pkts {
			bytes += len(p.Payload)
		}
	}
	cam := New(Config{Name: "bench", URL: "rtsp://127.0.0.1/stream"}, discardSink{}, nil)
	r := &reader{cam: cam, session: 1, params: newParamSet(sps, pps), dec: &unitDecoder{}}
	errs := newRateLog(cam.log, "frames dropped (broken packets)", 0)
	b.SetBytes(int64(bytes / len(aus)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(frames)
		pts := int64(i) * 3600
		for _, p := range frames[k] {
			p.Timestamp = uint32(pts)
			r.handle(p, pts, errs)
		}
	}
}
