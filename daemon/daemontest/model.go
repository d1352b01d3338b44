package daemontest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/edgecam/edgecam/capture/testcamera/vision"
	"github.com/edgecam/edgecam/daemon/api"
)

// MarkerModel is the model name RunMarkerDetector reports as.
const MarkerModel = "marker-finder"

// RunMarkerDetector is a test model for a camera serving the vision clip:
// it reads the camera's raw frames (/frames with the given query, a gray
// format), finds the marker in each and sends its box back on the socket,
// naming the frame by its pts; an empty list when the marker is not found.
// It runs until ctx ends or the socket closes.
func RunMarkerDetector(ctx context.Context, t *testing.T, base, camera, query string) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/cameras/" + camera + "/frames?" + query
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Errorf("marker detector: %v", err)
		return
	}
	conn.SetReadLimit(8 << 20)
	go func() {
		defer conn.CloseNow()
		var meta api.FrameMeta
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageText {
				_ = json.Unmarshal(data, &meta)
				continue
			}
			if meta.Type != "frame" {
				continue
			}
			p := vision.Picture{Pix: data, Width: meta.Width, Height: meta.Height, Stride: meta.Stride, BytesPerPixel: 1}
			objects := []any{}
			if m, ok := p.Marker(); ok {
				objects = append(objects, map[string]any{"label": "marker", "score": 1, "box": map[string]float64{
					"x": float64(m.Min.X) / vision.Width, "y": float64(m.Min.Y) / vision.Height,
					"w": float64(m.Dx()) / vision.Width, "h": float64(m.Dy()) / vision.Height}})
			}
			msg, _ := json.Marshal(map[string]any{"type": "detections", "pts": meta.PTS, "model": MarkerModel, "objects": objects})
			if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
				return
			}
		}
	}()
}
