package detections

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzDecodeMatchesEncodingJSON holds the hand-written decoder to
// encoding/json: whatever it accepts, encoding/json (with unknown fields
// refused) accepts too and decodes to the same message; whatever
// encoding/json accepts, it accepts too, unless the message uses what the
// schema does not allow and encoding/json lets pass: a key twice, a key in
// other letter case, something after the message, a top level that is not
// an object.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		string(busyMessage(3)),
		`{"version":1,"pts":4294967295,"model":"yolo","objects":[{"label":"person","score":0.9,"box":{"x":0.1,"y":0.2,"w":0.3,"h":0.4},"track":7,"color":"#FF8800"}]}`,
		`{"type":"detections","seq":18446744073709551615,"model":"m","objects":[]}`,
		` {"model" : "m\u00e9\ud83d\ude00\ud800x\"\\\/\b\f\n\r\t", "objects" : null , "pts": null} `,
		`{"model":"m","objects":[null,{"label":null,"score":null,"box":null,"track":null,"color":null}]}`,
		`{"model":"m","objects":[{"label":"a","score":1e-7,"box":{"x":-0,"y":0.1234567890123456789,"w":1E2,"h":12345678901234567}}]}`,
		`{"version":-0,"pts":-1}`,
		`{"version":1.0}`,
		`{"pts":01}`,
		`{"model":"m","model":"n"}`,
		`{"Model":"m"}`,
		`{"model":"m"}}`,
		`{"model":"m"} {}`,
		`null`,
		`{"model":"\xff\xfe"}`,
		`{"score":1}`,
		`{"objects":[{"box":{"x":1e400}}]}`,
		`{"version":9223372036854775808}`,
		`{"objects":[{"track":-9223372036854775808}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ours Message
		err := decodeMessage(data, &ours)
		var schema *Error
		if errors.As(err, &schema) {
			return // the schema's limits, which check() applies in any case
		}
		var ref Message
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		refErr := dec.Decode(&ref)
		switch {
		case err == nil && refErr != nil:
			t.Fatalf("%q: accepted, encoding/json refuses it: %v", data, refErr)
		case err == nil && !reflect.DeepEqual(ours, ref):
			t.Fatalf("%q: decoded to %#v, encoding/json to %#v", data, ours, ref)
		case err != nil && refErr == nil && !outsideSchema(data):
			t.Fatalf("%q: refused (%v), encoding/json accepts it as %#v", data, err, ref)
		}
	})
}

// outsideSchema reports whether data, which encoding/json decodes, uses
// what the schema does not allow.
func outsideSchema(data []byte) bool {
	known := map[string]bool{"type": true, "version": true, "pts": true, "seq": true, "model": true, "objects": true,
		"label": true, "score": true, "box": true, "track": true, "color": true, "x": true, "y": true, "w": true, "h": true}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return true
	}
	// Keys of each open container; nil for a list.
	stack := []map[string]bool{{}}
	expectKey := true
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		top := stack[len(stack)-1]
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, map[string]bool{})
			case '[':
				stack = append(stack, nil)
			default:
				stack = stack[:len(stack)-1]
			}
			expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
			continue
		}
		if top != nil && expectKey {
			k, _ := tok.(string)
			if !known[k] || top[k] {
				return true
			}
			top[k] = true
			expectKey = false
			continue
		}
		expectKey = top != nil
	}
	_, err = dec.Token()
	return err != io.EOF
}
