package redact

import (
	"strings"
	"testing"
)

const secret = "s3cr3t!pw"

func TestURLNeverReturnsThePassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rtsp://admin:" + secret + "@192.168.1.64:554/Streaming/Channels/101", "rtsp://admin:***@192.168.1.64:554/Streaming/Channels/101"},
		{"rtsps://admin:" + secret + "@cam/s?x=1", "rtsps://admin:***@cam/s?x=1"},
		{"rtsp://admin:" + secret + "%40x@cam/", "rtsp://admin:***@cam/"},
		{"rtsp://admin:" + secret + "@x@cam/", "rtsp://admin:***@cam/"},
		{"rtsp://admin@cam/", "rtsp://admin@cam/"},
		{"rtsp://cam:554/live", "rtsp://cam:554/live"},
		{"rtsp://cam/live?user=admin&password=" + secret, "rtsp://cam/live?user=admin&password=***"},
		// Unparsable or misparsed input: hide too much rather than too little.
		{"rtsp://admin:" + secret + "?x@cam/", "rtsp://admin:***@cam/"},
		{"rtsp://admin:12/" + secret + "@cam/", "rtsp://admin:***@cam/"},
		{"rtsp://admin:" + secret + " x@cam/", "rtsp://admin:***@cam/"},
		{"admin:" + secret + "@cam", "admin:***@cam"},
		{"", ""},
	}
	for _, tt := range tests {
		got := URL(tt.in)
		if got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, secret) {
			t.Errorf("URL(%q) leaks the password: %q", tt.in, got)
		}
	}
}

func TestSecretsRemovesThePasswordInEveryForm(t *testing.T) {
	raw := "rtsp://admin:p%40ss%20w@cam/"
	for _, msg := range []string{
		"dial rtsp://admin:p%40ss%20w@cam/: refused",
		"auth failed for p@ss w",
		"query p%40ss+w",
	} {
		got := Secrets(msg, raw)
		if strings.Contains(got, "p@ss") || strings.Contains(got, "p%40ss") {
			t.Errorf("Secrets(%q) = %q: the password is still there", msg, got)
		}
	}
	if got := Secrets("no url here", "rtsp://cam/"); got != "no url here" {
		t.Errorf("Secrets without a password changed the text: %q", got)
	}
}
