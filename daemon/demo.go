package daemon

import (
	"fmt"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/daemon/config"
)

// Demo is the built-in test camera behind `edgecam run --demo`.
type Demo struct {
	cam *testcamera.Camera
}

// DemoRTSP is where the demo camera serves by default: a fixed address,
// so that a configuration can point a camera at rtsp://127.0.0.1:8554/demo.
const DemoRTSP = "127.0.0.1:8554"

// StartDemo starts the built-in test camera on addr (host:port; port 0
// picks a free one).
func StartDemo(addr string) (*Demo, error) {
	cam, err := testcamera.Start(testcamera.Options{Addr: addr, Path: "/demo"})
	if err != nil {
		return nil, fmt.Errorf("demo camera on %s: %w (choose another address with --demo-rtsp, or 127.0.0.1:0 for any free port)", addr, err)
	}
	return &Demo{cam: cam}, nil
}

// URL is the demo camera's RTSP URL.
func (d *Demo) URL() string { return d.cam.URL() }

// Config returns a configuration with the demo camera. base supplies the
// non-camera settings (listen address, WebRTC port); nil means defaults.
func (d *Demo) Config(base *config.Config) *config.Config {
	var cfg config.Config
	if base != nil {
		cfg = *base
	} else {
		cfg = *config.Default()
	}
	cfg.Cameras = []config.Camera{{Name: "demo", URL: d.cam.URL(), Transport: "tcp"}}
	if base == nil {
		// The demo shows only the built-in test pattern: nothing to protect,
		// and a newcomer should see video without creating a user first.
		cfg.Auth.Mode = config.AuthNone
	}
	cfg.ApplyDefaults()
	return &cfg
}

// Close stops the demo camera.
func (d *Demo) Close() { d.cam.Close() }
