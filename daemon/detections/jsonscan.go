package detections

import (
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON primitives of the detections decoder (decode.go): whitespace,
// objects and lists, strings, numbers, each read as encoding/json reads
// it, without allocating for what models send most.

// space skips JSON whitespace.
func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// null consumes a null literal if one is next.
func (d *decoder) null() bool {
	d.space()
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// open consumes an object's '{' or a list's '['; false if it is not next.
func (d *decoder) open(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// nextKey reads the i-th key of an object and the ':' after it. *more is
// false on entry if the object did not open, and is set false at its end.
func (d *decoder) nextKey(what string, i int, more *bool) ([]byte, error) {
	if !*more {
		return nil, d.errorf("%s: want an object", what)
	}
	if !d.separator('}', i, more) {
		return nil, d.errorf("%s: want ',' or '}'", what)
	}
	if !*more {
		return nil, nil
	}
	key, err := d.stringBytes(what)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		return nil, d.errorf("%s: want ':' after %q", what, key)
	}
	d.i++
	return key, nil
}

// nextElem moves to the i-th element of a list, like nextKey.
func (d *decoder) nextElem(what string, i int, more *bool) error {
	if !*more {
		return d.errorf("%s: want a list", what)
	}
	if !d.separator(']', i, more) {
		return d.errorf("%s: want ',' or ']'", what)
	}
	return nil
}

// separator reads what comes before the i-th member of an object or list
// that ends with end: nothing or end before the first, ',' or end after.
func (d *decoder) separator(end byte, i int, more *bool) bool {
	d.space()
	if d.i >= len(d.b) {
		return false
	}
	switch c := d.b[d.i]; {
	case c == end:
		d.i++
		*more = false
		return true
	case i == 0:
		return true
	case c == ',':
		d.i++
		return true
	}
	return false
}

// string reads a JSON string (null leaves it empty).
func (d *decoder) string(what string) (string, error) {
	if d.null() {
		return "", nil
	}
	b, err := d.stringBytes(what)
	return string(b), err
}

// stringBytes reads a JSON string as encoding/json does: escapes
// resolved, invalid UTF-8 and lone surrogates turned into U+FFFD. Without
// escapes or bad bytes it is a slice of the input.
func (d *decoder) stringBytes(what string) ([]byte, error) {
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, d.errorf("%s: want a string", what)
	}
	d.i++
	start := d.i
	// The common case: no escapes, ASCII or valid UTF-8.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			d.i++
			return d.b[start : d.i-1], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			d.i++
			continue
		}
		r, size := utf8.DecodeRune(d.b[d.i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		d.i += size
	}
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return out, nil
		case c < 0x20:
			return nil, d.errorf("%s: a control character in a string", what)
		case c == '\\':
			r, err := d.escape(what)
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			out = utf8.AppendRune(out, r) // RuneError for a bad byte
			d.i += size
		}
	}
	return nil, d.errorf("%s: the string does not end", what)
}

// escape reads one escape sequence at d.i (the backslash).
func (d *decoder) escape(what string) (rune, error) {
	if d.i+1 >= len(d.b) {
		return 0, d.errorf("%s: the string does not end", what)
	}
	c := d.b[d.i+1]
	d.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := d.hex4()
		if !ok {
			return 0, d.errorf("%s: a bad \\u escape", what)
		}
		if utf16.IsSurrogate(r) {
			// A pair makes one rune; anything else is U+FFFD, and a
			// following escape is read on its own.
			if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
				save := d.i
				d.i += 2
				if r2, ok := d.hex4(); ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						return dec, nil
					}
				}
				d.i = save
			}
			return utf8.RuneError, nil
		}
		return r, nil
	}
	return 0, d.errorf("%s: a bad escape", what)
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	d.i += 4
	return r, true
}
