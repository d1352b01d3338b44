package detections

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// What viewers get is what encoding/json would have made, byte for byte.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	track := int64(-7)
	big := int64(math.MaxInt64)
	at := time.Date(2026, 11, 25, 14, 1, 7, 523000000, time.UTC)
	for _, d := range []Detection{
		{Version: 1, Camera: "press-1", PTS: 3150000, Model: "yolo", Objects: []Object{}, Time: at, Latency: 0.042},
		{Version: 1, Camera: "cam", Model: "m", Time: at.In(time.FixedZone("x", 3600))},
		{Version: 1, Camera: `a"b\c<d>&e` + "\u2028\u2029\x7f\xff\xfeé😀\n\r\t\b\f\x01", PTS: math.MaxUint32, Model: "m\u00e9",
			Objects: []Object{
				{Label: "person", Score: 0.91, Box: Box{X: 0.52, Y: 0.18, W: 0.11, H: 0.46}, Track: &track},
				{Label: "x", Score: 1e-7, Box: Box{X: 0.000001, Y: 1e-9, W: 1, H: 1e21}, Track: &big, Color: "#ff0000"},
				{Label: "", Score: 0, Box: Box{X: math.Copysign(0, -1), Y: 0.1 + 0.2, W: 123456789.125, H: 5e-324}},
			},
			Time: time.Time{}, Latency: 1.5e-8},
	} {
		// plain has the fields and not the method: encoding/json's own
		// encoding of them.
		type plain Detection
		want, err := json.Marshal(plain(d))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}
