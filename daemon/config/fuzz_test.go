package config

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// userinfoPassword finds the password of URLs written with user-info in a
// configuration, wherever they appear (under url, pasted as a key, as a list
// item...).
var userinfoPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:'"]*:([^\s@'"]+)@`)

// FuzzParse feeds arbitrary documents to the configuration parser: it must
// never panic, must either return a configuration or an error, and must never
// quote the password of a URL's user-info in that error.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"---\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "@cam/\n",
		"cameras:\n  - name: press-1\n    url: http://admin:" + secret + "@cam/\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "@cam:70000/\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "?x@cam/\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:12?" + secret + "@cam/\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "@[::1/\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "@cam/?password=" + secret + "\n",
		"cameras:\n  - rtsp://admin:" + secret + "@cam/\n",
		"cameras:\n  - name: press-1\n    url: rtsp://cam/\n    max_viewers: rtsp://admin:" + secret + "@cam/\n",
		"cameras:\n  rtsp://admin:" + secret + "@cam/: x\n",
		"rtsp://admin:" + secret + "@cam/: 1\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "@cam/\n    url: rtsp://admin:" + secret + "@cam2/\n",
		"cameras:\n  - name: press-1\n    url: rtsp://admin:" + secret + "@cam/\n    read_timeout: rtsp://admin:" + secret + "@cam/\n",
		"webrtc:\n  udp_port: 70000\n  hosts: [10.0.0.1, 'rtsp://admin:" + secret + "@cam/']\n",
		"http:\n  listen: rtsp://admin:" + secret + "@cam/\n",
		"log:\n  level: rtsp://admin:" + secret + "@cam/\n",
		"cameras:\n\t- name: press-1\n",
		"a: &a [*a]\n",
		"x: &x {a: 1}\ny: *x\n",
		"cameras:\n  -\n  - name: press-1\n    url: rtsp://cam/\n",
		"jpeg:\n  fps: 0\n  quality: 101\n",
		"---\na: 1\n---\nb: 2\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v; want exactly one", cfg != nil, err)
		}
		if err == nil {
			return
		}
		msg := err.Error()
		for _, m := range userinfoPassword.FindAllSubmatchIndex(data, -1) {
			pass := string(data[m[2]:m[3]])
			candidates := []string{pass}
			if dec, err := url.PathUnescape(pass); err == nil && dec != pass {
				candidates = append(candidates, dec)
			}
			for _, p := range candidates {
				// Short strings occur in any message by chance.
				if len(p) < 6 || !strings.Contains(msg, p) {
					continue
				}
				// The same text may be in the message for another reason,
				// e.g. because it is also a camera's name or a key: find out
				// by writing a different password in the same place.
				other := append(append(append([]byte(nil), data[:m[2]]...), strings.Repeat("Q", m[3]-m[2])...), data[m[3]:]...)
				if _, err0 := Parse("f.yaml", other); err0 != nil && strings.Contains(err0.Error(), p) {
					continue
				}
				t.Fatalf("the error quotes the password %q of a URL in the input:\n%s", p, msg)
			}
		}
	})
}
