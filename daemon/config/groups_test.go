package config

import (
	"slices"
	"strings"
	"testing"
)

const twoCameras = "cameras:\n" +
	"  - name: press-1\n" +
	"    title: Press 1 (north)\n" +
	"    url: rtsp://cam1/\n" +
	"  - name: dock-gate\n" +
	"    url: rtsp://cam2/\n"

func TestParseReadsTitlesAndGroups(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(twoCameras+"groups:\n"+
		"  - name: line-1\n"+
		"    title: Line 1\n"+
		"    cameras: [dock-gate, press-1]\n"+
		"  - name: warehouse\n"+
		"    cameras: [dock-gate]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Cameras[0].Title; got != "Press 1 (north)" {
		t.Errorf("cameras[0].title = %q", got)
	}
	if len(cfg.Groups) != 2 {
		t.Fatalf("groups = %+v, want 2", cfg.Groups)
	}
	g := cfg.Groups[0]
	if g.Name != "line-1" || g.Title != "Line 1" || !slices.Equal(g.Cameras, []string{"dock-gate", "press-1"}) {
		t.Errorf("groups[0] = %+v, want line-1 titled Line 1 with dock-gate, press-1 in that order", g)
	}
}

func TestParseReportsBadGroupsWithLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown camera", "groups:\n  - name: line-1\n    cameras: [press-1, press-9]\n", `config.yaml:9: groups[0].cameras[1]: no camera is named "press-9"`},
		{"camera twice", "groups:\n  - name: line-1\n    cameras:\n      - press-1\n      - press-1\n", `config.yaml:11: groups[0].cameras[1]: "press-1" is listed twice`},
		{"no cameras", "groups:\n  - name: line-1\n", "config.yaml:8: groups[0].cameras: missing"},
		{"no name", "groups:\n  - cameras: [press-1]\n", "config.yaml:8: groups[0].name: missing; every group needs a unique name"},
		{"name with spaces", "groups:\n  - name: Line 1\n    cameras: [press-1]\n", `config.yaml:8: groups[0].name: "Line 1" must be lowercase letters, digits and '-'`},
		{"duplicate name", "groups:\n  - name: a\n    cameras: [press-1]\n  - name: a\n    cameras: [press-1]\n", `config.yaml:10: groups[1].name: duplicate "a" (first at groups[0])`},
		{"empty entry", "groups:\n  -\n  - name: a\n    cameras: [press-1]\n", "config.yaml:8: groups[0]: empty group entry"},
		{"cameras not a list", "groups:\n  - name: a\n    cameras: press-1\n", "config.yaml:9: groups[0].cameras: expected a list of strings"},
		{"unknown key", "groups:\n  - name: a\n    camera: [press-1]\n", `config.yaml:9: groups[0].camera: unknown key "camera"; valid keys here are name, title, cameras`},
		{"empty group title", "groups:\n  - name: a\n    title: \"\"\n    cameras: [press-1]\n", "config.yaml:9: groups[0].title: is empty"},
		{"long title", "groups:\n  - name: a\n    title: " + strings.Repeat("x", 81) + "\n    cameras: [press-1]\n", "groups[0].title: \"xxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.yaml", []byte(twoCameras+tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseReportsABadCameraTitle(t *testing.T) {
	for yaml, want := range map[string]string{
		"    title: \"\"\n":           "config.yaml:4: cameras[0].title: is empty",
		"    title: \"a\\nb\"\n":      `config.yaml:4: cameras[0].title: "a\nb" must be one line of text`,
		"    title: [Press, north]\n": "config.yaml:4: cameras[0].title: expected a string, got a list",
	} {
		_, err := Parse("config.yaml", []byte("cameras:\n  - name: press-1\n    url: rtsp://cam/\n"+yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", yaml, err, want)
		}
	}
}

func TestCameraEqualIgnoresTheTitle(t *testing.T) {
	a := Camera{Name: "press-1", URL: "rtsp://cam/main", Title: "Press 1"}
	b := a
	b.Title = "Press 1 (north)"
	if !a.Equal(b) {
		t.Error("a camera whose title changed is not Equal: a reload would restart its stream for a label")
	}
}
