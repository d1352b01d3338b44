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
		// Query secrets under the names cameras and gateways use.
		{"rtsp://cam/live?channel=1&token=" + secret + "&subtype=0", "rtsp://cam/live?channel=1&token=***&subtype=0"},
		{"rtsp://cam/live?auth=" + secret, "rtsp://cam/live?auth=***"},
		{"rtsp://cam/live?AccessToken=" + secret + "#x", "rtsp://cam/live?AccessToken=***#x"},
		{"rtsp://cam/live?loginPass=" + secret + ";apikey=" + secret, "rtsp://cam/live?loginPass=***;apikey=***"},
		{"rtsp://cam/live?psw=" + secret + "&x_sig=" + secret + "&pw=" + secret, "rtsp://cam/live?psw=***&x_sig=***&pw=***"},
		{"rtsp://admin:" + secret + "@cam/live?session_id=" + secret, "rtsp://admin:***@cam/live?session_id=***"},
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

// A camera may echo a query secret back in an error, in a form that is not
// a query any more.
func TestSecretsRemovesQuerySecretsFromWhatACameraEchoes(t *testing.T) {
	raw := "rtsp://cam/live?user=admin&token=tok%2Fen42&password=" + secret
	for _, msg := range []string{
		"401 Unauthorized: token tok/en42 expired",
		"DESCRIBE rtsp://cam/live?user=admin&token=tok%2Fen42&password=" + secret + " failed",
		"bad password " + secret,
		`redirect to "rtsp://other/live?auth=zzz999"`,
	} {
		got := Secrets(msg, raw)
		for _, leak := range []string{"tok/en42", "tok%2Fen42", secret, "zzz999"} {
			if strings.Contains(got, leak) {
				t.Errorf("Secrets(%q) = %q: %q is still there", msg, got, leak)
			}
		}
	}
}
