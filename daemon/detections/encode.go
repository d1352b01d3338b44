package detections

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends d as JSON, what json.Marshal makes of it, without
// reflection: every message is encoded once for the viewers, and with 20
// objects reflection cost as much as the rest of taking the message.
// TestAppendJSONMatchesMarshal holds it to encoding/json.
func (d Detection) AppendJSON(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(d.Version), 10)
	b = append(b, `,"camera":`...)
	b = appendString(b, d.Camera)
	b = append(b, `,"pts":`...)
	b = strconv.AppendUint(b, uint64(d.PTS), 10)
	b = append(b, `,"model":`...)
	b = appendString(b, d.Model)
	b = append(b, `,"objects":`...)
	if d.Objects == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, o := range d.Objects {
			if i > 0 {
				b = append(b, ',')
			}
			b = o.appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"time":"`...)
	b = d.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","latency":`...)
	b = appendFloat(b, d.Latency)
	return append(b, '}')
}

// MarshalJSON encodes d with AppendJSON.
func (d Detection) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil), nil }

func (o Object) appendJSON(b []byte) []byte {
	b = append(b, `{"label":`...)
	b = appendString(b, o.Label)
	b = append(b, `,"score":`...)
	b = appendFloat(b, o.Score)
	b = append(b, `,"box":{"x":`...)
	b = appendFloat(b, o.Box.X)
	b = append(b, `,"y":`...)
	b = appendFloat(b, o.Box.Y)
	b = append(b, `,"w":`...)
	b = appendFloat(b, o.Box.W)
	b = append(b, `,"h":`...)
	b = appendFloat(b, o.Box.H)
	b = append(b, '}')
	if o.Track != nil {
		b = append(b, `,"track":`...)
		b = strconv.AppendInt(b, *o.Track, 10)
	}
	if o.Color != "" {
		b = append(b, `,"color":`...)
		b = appendString(b, o.Color)
	}
	return append(b, '}')
}

// appendFloat writes a float64 as encoding/json does: the shortest
// decimal that reads back the same, in exponent form only below 1e-6 or
// from 1e21 on. The values here are finite (checked on the way in).
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does, HTML
// characters escaped and invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
