package testcamera

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// stampUUID identifies the SEI user_data_unregistered messages written with
// Options.StampSendTime, so a receiver can tell them from an encoder's own.
var stampUUID = [16]byte{0xed, 0x9e, 0xca, 0x11, 0x5e, 0x1d, 0x71, 0x3e, 0xb0, 0x0c, 0x2b, 0x6c, 0x4a, 0x7f, 0x90, 0x01}

// stampPayloadSize is the SEI payload: the UUID, the send time in Unix
// nanoseconds and the frame number, both big-endian uint64.
const stampPayloadSize = 16 + 8 + 8

// sendTimeSEI returns an SEI NAL unit (user_data_unregistered, payload type
// 5) carrying sent and frame, with emulation prevention applied.
func sendTimeSEI(sent time.Time, frame uint64) []byte {
	rbsp := make([]byte, 0, 3+stampPayloadSize+1)
	rbsp = append(rbsp, 5, stampPayloadSize)
	rbsp = append(rbsp, stampUUID[:]...)
	rbsp = binary.BigEndian.AppendUint64(rbsp, uint64(sent.UnixNano()))
	rbsp = binary.BigEndian.AppendUint64(rbsp, frame)
	rbsp = append(rbsp, 0x80) // rbsp_trailing_bits
	nalu := make([]byte, 0, 1+len(rbsp)+len(rbsp)/2)
	nalu = append(nalu, byte(h264.NALUTypeSEI))
	zeros := 0
	for _, b := range rbsp {
		// A start code or emulation prevention byte must never appear
		// inside a NALU (ITU-T H.264 7.4.1).
		if zeros >= 2 && b <= 3 {
			nalu = append(nalu, 3)
			zeros = 0
		}
		nalu = append(nalu, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return nalu
}

// ParseSendTime reads the send time and frame number from an SEI NAL unit
// written by a camera with Options.StampSendTime. ok is false for any other
// NAL unit, including other SEI messages.
func ParseSendTime(nalu []byte) (sent time.Time, frame uint64, ok bool) {
	if len(nalu) < 1+2+stampPayloadSize || h264.NALUType(nalu[0]&0x1f) != h264.NALUTypeSEI {
		return time.Time{}, 0, false
	}
	rbsp := h264.EmulationPreventionRemove(nalu[1:])
	if len(rbsp) < 2+stampPayloadSize || rbsp[0] != 5 || rbsp[1] != stampPayloadSize ||
		!bytes.Equal(rbsp[2:18], stampUUID[:]) {
		return time.Time{}, 0, false
	}
	ns := binary.BigEndian.Uint64(rbsp[18:26])
	return time.Unix(0, int64(ns)), binary.BigEndian.Uint64(rbsp[26:34]), true
}

// withSendTime returns au with a send-time SEI inserted before its first
// slice (after any SPS and PPS, so an IDR unit still starts with them).
func withSendTime(dst, au [][]byte, sent time.Time, frame uint64) [][]byte {
	dst = dst[:0]
	sei := sendTimeSEI(sent, frame)
	for _, n := range au {
		if sei != nil && isVCL(h264.NALUType(n[0]&0x1f)) {
			dst = append(dst, sei)
			sei = nil
		}
		dst = append(dst, n)
	}
	if sei != nil {
		dst = append(dst, sei)
	}
	return dst
}
