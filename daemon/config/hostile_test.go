package config

import (
	"strings"
	"testing"
)

// Files no one means to write, and what edgecam says of them: short, each
// problem once, with its line.
func TestHostileFilesGetShortClearErrors(t *testing.T) {
	var many strings.Builder
	many.WriteString("cameras:\n")
	for i := 0; many.Len() <= MaxFileSize; i++ {
		many.WriteString("  - name: c" + strings.Repeat("x", 20) + "\n    url: rtsp://cam/\n")
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"larger than 1 MiB", many.String(), []string{"cfg.yaml: the file is larger than 1048576 bytes"}},
		{"a megabyte-long value, quoted in part", "log:\n  level: " + strings.Repeat("x", 900<<10) + "\n",
			[]string{`cfg.yaml:2: log.level: "` + strings.Repeat("x", 80) + `…" is not one of`}},
		{"an unclosed quote, reported where it is and not where YAML gave up",
			"http:\n  listen: \":8080\"\ncameras:\n  - name: press-1\n    url: \"rtsp://cam/1\n    transport: tcp\n  - name: press-2\n    url: \"rtsp://cam/2\"\n",
			[]string{"cfg.yaml:5: invalid YAML: the quoted value on this line is not closed"}},
		{"a port with a sign", "http:\n  listen: \"127.0.0.1:+18085\"\n", []string{"cfg.yaml:2: http.listen: \"127.0.0.1:+18085\" is not a valid listen address"}},
		{"duplicates at every depth, each reported", "http:\n  listen: \":1\"\nhttp:\n  listen: \":2\"\n  listen: \":3\"\ncameras:\n  - name: a\n    url: rtsp://a/\n    url: rtsp://b/\n",
			[]string{"cfg.yaml:3: http: duplicate key (first at line 1)", "cfg.yaml:5: http.listen: duplicate key (first at line 4)", "cfg.yaml:9: cameras[0].url: duplicate key (first at line 8)"}},
	} {
		_, err := Parse("cfg.yaml", []byte(tc.yaml))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		msg := err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: the error does not say %q:\n%.500s", tc.name, w, msg)
			}
		}
		if len(msg) > 2000 {
			t.Errorf("%s: a %d-byte error", tc.name, len(msg))
		}
		if n := strings.Count(msg, "\n"); n > len(tc.want)+1 {
			t.Errorf("%s: %d lines, want %d problems:\n%s", tc.name, n, len(tc.want), msg)
		}
	}
}
