package detections

import (
	"bytes"
	"strconv"
)

// number reads a JSON number's literal.
func (d *decoder) number(what string) ([]byte, error) {
	d.space()
	start := d.i
	digits := func() bool {
		n := d.i
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
		}
		return d.i > n
	}
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case !digits():
		d.i = start
		return nil, d.errorf("%s: want a number", what)
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if !digits() {
			return nil, d.errorf("%s: a bad number", what)
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if !digits() {
			return nil, d.errorf("%s: a bad number", what)
		}
	}
	return d.b[start:d.i], nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// simpleFloat parses the literals models send most, such as 0.4375 or
// 12: no exponent and at most 15 digits. Their digits and the power of
// ten are exact in a float64, so one division is correctly rounded and
// gives what strconv.ParseFloat gives, without its allocation.
func simpleFloat(lit []byte) (float64, bool) {
	neg := len(lit) > 0 && lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for _, c := range lit {
		switch {
		case c == '.':
			dot = true
		case '0' <= c && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		default:
			return 0, false // an exponent
		}
	}
	if digits > 15 {
		return 0, false
	}
	v := float64(mant) / pow10[frac]
	if neg {
		v = -v
	}
	return v, true
}

// float reads a number (null leaves 0).
func (d *decoder) float(what string) (float64, error) {
	if d.null() {
		return 0, nil
	}
	lit, err := d.number(what)
	if err != nil {
		return 0, err
	}
	if v, ok := simpleFloat(lit); ok {
		return v, nil
	}
	v, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return 0, d.errorf("%s: %s is out of range", what, lit)
	}
	return v, nil
}

// int reads a whole number of at most bits bits (null leaves 0).
func (d *decoder) int(what string, bits int) (int64, error) {
	if d.null() {
		return 0, nil
	}
	lit, err := d.number(what)
	if err != nil {
		return 0, err
	}
	if len(lit) <= 18 && !bytes.ContainsAny(lit, ".eE") {
		// Fits in an int64 whatever the digits: no allocation.
		v, neg := int64(0), lit[0] == '-'
		for _, c := range bytes.TrimPrefix(lit, []byte("-")) {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		if bits == 64 || (v >= -1<<(bits-1) && v < 1<<(bits-1)) {
			return v, nil
		}
	}
	v, err := strconv.ParseInt(string(lit), 10, bits)
	if err != nil {
		return 0, d.errorf("%s: %s is not a whole number that fits", what, lit)
	}
	return v, nil
}

// uint reads a whole number from 0 that fits in bits bits.
func (d *decoder) uint(what string, bits int) (uint64, error) {
	lit, err := d.number(what)
	if err != nil {
		return 0, err
	}
	if len(lit) <= 19 && lit[0] != '-' && !bytes.ContainsAny(lit, ".eE") {
		var v uint64
		for _, c := range lit {
			v = v*10 + uint64(c-'0')
		}
		if bits == 64 || v < 1<<bits {
			return v, nil
		}
	}
	v, err := strconv.ParseUint(string(lit), 10, bits)
	if err != nil {
		return 0, d.errorf("%s: %s is not a whole number from 0 to %d", what, lit, uint64(1)<<bits-1)
	}
	return v, nil
}
