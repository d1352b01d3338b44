//go:build edgecam_rtph264

package capture

import (
	"errors"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"
)

// unitDecoder is gortsplib's decoder: see depacketize_own.go.
type unitDecoder struct {
	dec *rtph264.Decoder
}

func (d *unitDecoder) decode(pkt *rtp.Packet) ([][]byte, error) {
	if d.dec == nil {
		d.dec = &rtph264.Decoder{PacketizationMode: 1}
		if err := d.dec.Init(); err != nil {
			return nil, err
		}
	}
	nalus, err := d.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph264.ErrMorePacketsNeeded):
		return nil, errMorePacketsNeeded
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
		return nil, errNonStartingNoPrevious
	}
	return nalus, err
}
