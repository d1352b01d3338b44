package detections

import (
	"fmt"
)

// A model posts its detections several times a second for each camera, and
// reflection-driven encoding/json spent most of the daemon's CPU per
// message on them (about 45 µs for 20 objects, more on a busy box). This
// is a strict decoder for the one schema, with no reflection: keys as the
// schema spells them, each at most once, values of their own type, nothing
// after the message. FuzzDecodeMatchesEncodingJSON holds it to what
// encoding/json decodes from every message both accept.

// decodeMessage decodes data into m.
func decodeMessage(data []byte, m *Message) error {
	d := decoder{b: data}
	if err := d.message(m); err != nil {
		return err
	}
	d.space()
	if d.i < len(d.b) {
		return d.errorf("more than one JSON value, or something after the message")
	}
	return nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{d.i}, args...)...)
}

// fields tells which keys of an object were given: one bit per key.
type fields uint8

// once marks key bit as given, refusing it a second time.
func (d *decoder) once(f *fields, bit fields, key []byte) error {
	if *f&bit != 0 {
		return d.errorf("%q given twice", key)
	}
	*f |= bit
	return nil
}

func (d *decoder) message(m *Message) error {
	var given fields
	for i, more := 0, d.open('{'); ; i++ {
		key, err := d.nextKey("message", i, &more)
		if err != nil || !more {
			return err
		}
		switch string(key) {
		case "type":
			if err = d.once(&given, 1, key); err == nil {
				m.Type, err = d.string("type")
			}
		case "version":
			if err = d.once(&given, 2, key); err == nil {
				var v int64
				v, err = d.int("version", 64)
				m.Version = int(v)
			}
		case "pts":
			if err = d.once(&given, 4, key); err == nil && !d.null() {
				var v uint64
				v, err = d.uint("pts", 32)
				p := uint32(v)
				m.PTS = &p
			}
		case "seq":
			if err = d.once(&given, 8, key); err == nil && !d.null() {
				var v uint64
				v, err = d.uint("seq", 64)
				m.Seq = &v
			}
		case "model":
			if err = d.once(&given, 16, key); err == nil {
				m.Model, err = d.string("model")
			}
		case "objects":
			if err = d.once(&given, 32, key); err == nil {
				err = d.objects(m)
			}
		default:
			return d.errorf("unknown field %q", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) objects(m *Message) error {
	if d.null() {
		m.Objects = nil
		return nil
	}
	m.Objects = make([]Object, 0, 16)
	for i, more := 0, d.open('['); ; i++ {
		if err := d.nextElem("objects", i, &more); err != nil || !more {
			return err
		}
		if len(m.Objects) >= MaxObjects {
			return refuse(422, "objects: more than %d listed, at most %d are allowed", MaxObjects, MaxObjects)
		}
		m.Objects = append(m.Objects, Object{})
		if d.null() {
			continue
		}
		if err := d.object(&m.Objects[len(m.Objects)-1]); err != nil {
			return err
		}
	}
}

func (d *decoder) object(o *Object) error {
	var given fields
	for i, more := 0, d.open('{'); ; i++ {
		key, err := d.nextKey("objects[]", i, &more)
		if err != nil || !more {
			return err
		}
		switch string(key) {
		case "label":
			if err = d.once(&given, 1, key); err == nil {
				o.Label, err = d.string("label")
			}
		case "score":
			if err = d.once(&given, 2, key); err == nil {
				o.Score, err = d.float("score")
			}
		case "box":
			if err = d.once(&given, 4, key); err == nil && !d.null() {
				err = d.box(&o.Box)
			}
		case "track":
			if err = d.once(&given, 8, key); err == nil && !d.null() {
				var v int64
				v, err = d.int("track", 64)
				o.Track = &v
			}
		case "color":
			if err = d.once(&given, 16, key); err == nil {
				o.Color, err = d.string("color")
			}
		default:
			return d.errorf("unknown field %q in an object", key)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) box(b *Box) error {
	var given fields
	for i, more := 0, d.open('{'); ; i++ {
		key, err := d.nextKey("box", i, &more)
		if err != nil || !more {
			return err
		}
		var f *float64
		var bit fields
		switch string(key) {
		case "x":
			f, bit = &b.X, 1
		case "y":
			f, bit = &b.Y, 2
		case "w":
			f, bit = &b.W, 4
		case "h":
			f, bit = &b.H, 8
		default:
			return d.errorf("unknown field %q in box", key)
		}
		if err := d.once(&given, bit, key); err != nil {
			return err
		}
		if *f, err = d.float("box"); err != nil {
			return err
		}
	}
}
