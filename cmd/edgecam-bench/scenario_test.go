package main

import (
	"strings"
	"testing"
)

func TestFindScenario(t *testing.T) {
	tests := []struct {
		name string
		want scenario // Name and About are not compared
	}{
		{"8x360p-1v", scenario{Cameras: 8, Clip: res360, PerCamera: 1}},
		{"jpeg-kf", scenario{Cameras: 1, Clip: res1080, JPEG: true, KeyframesOnly: true}},
		{"4x1080p@6M-3v", scenario{Cameras: 4, Clip: clipSpec{Width: 1920, Height: 1080, KbitPerSec: 6000, Seconds: 4}, PerCamera: 3}},
		{"720p-2v", scenario{Cameras: 1, Clip: res720, PerCamera: 2}},
		{"2x480p@800k-idle", scenario{Cameras: 2, Clip: clipSpec{Width: 854, Height: 480, KbitPerSec: 800, Seconds: 4}}},
		{"720p@1.5M-4v-churn", scenario{Cameras: 1, Clip: clipSpec{Width: 1280, Height: 720, KbitPerSec: 1500, Seconds: 4}, PerCamera: 4, Churn: true}},
		{"2x720p-10v-defbuf", scenario{Cameras: 2, Clip: res720, PerCamera: 10, KernelBuffer: true}},
		{"1080p-10v-defbuf", scenario{Cameras: 1, Clip: res1080, PerCamera: 10, KernelBuffer: true}},
		{"6x1080p-50v-kf", scenario{Cameras: 6, Clip: res1080, PerCamera: 50, KeyframeStart: true}},
		{"6x1080p-50v", scenario{Cameras: 6, Clip: res1080, PerCamera: 50}},
		{"720p-jpeg", scenario{Cameras: 1, Clip: res720, JPEG: true}},
		{"1x1080p-jpeg-kf", scenario{Cameras: 1, Clip: res1080, JPEG: true, KeyframesOnly: true}},
		{"frames", scenario{Cameras: 1, Clip: res1080, Frames: true}},
		{"4x720p-frames", scenario{Cameras: 4, Clip: res720, Frames: true}},
		{"16x360p-detections", scenario{Cameras: 16, Clip: res360, Detections: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findScenario(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.name || got.About == "" {
				t.Errorf("name %q about %q", got.Name, got.About)
			}
			got.Name, got.About = "", ""
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFindScenarioAbout(t *testing.T) {
	sc, err := findScenario("4x1080p@6M-3v")
	if err != nil {
		t.Fatal(err)
	}
	if want := "4 cameras 1080p30 6 Mbit/s, 3 viewers each"; sc.About != want {
		t.Errorf("About = %q, want %q", sc.About, want)
	}
}

func TestFindScenarioRejects(t *testing.T) {
	tests := []struct{ name, says string }{
		{"1080p", "unknown scenario"},
		{"0x720p-1v", "want 1 to 64"},
		{"100x720p-1v", "want 1 to 64"},
		{"1440p-1v", "360p, 480p, 720p and 1080p"},
		{"720p@50k-1v", "want 100k to 20M"},
		{"720p@30M-1v", "want 100k to 20M"},
		{"720p-0v", "idle for none"},
		{"720p-51v", "1 to 50"},
		{"720p-2v-churn-defbuf", "unknown scenario"},
		{"2x720p-jpeg", "one camera"},
		{"720p-1v; rm -rf /", "unknown scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := findScenario(tt.name)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %v, want one saying %q", err, tt.says)
			}
		})
	}
}
