package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("cameras:\n  - name: press-1\n    url: rtsp://admin:s3cret@10.0.0.5/s\n    transport: tpc\n"), 0o644)
	// The postinst sends a user whose edgecam did not start here: check
	// says which program holds the port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := filepath.Join(dir, "taken.yaml")
	os.WriteFile(taken, []byte("http:\n  listen: \""+ln.Addr().String()+"\"\nwebrtc:\n  udp_port: 0\n"), 0o644)
	free := filepath.Join(dir, "free.yaml")
	os.WriteFile(free, []byte("http:\n  listen: \"127.0.0.1:0\"\nwebrtc:\n  udp_port: 0\n"), 0o644)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"example config is valid", []string{"check", "--no-bind", "--config", "../../config.example.yaml"}, 0, "camera press-1", ""},
		{"bad config names file line and key", []string{"check", "--config", bad}, 1, "", "bad.yaml:4: cameras[0].transport"},
		// What the unit's reload runs before it signals edgecam.
		{"quiet check of a bad config", []string{"check", "--quiet", "--config", bad}, 1, "", "bad.yaml:4: cameras[0].transport"},
		{"missing file", []string{"check", "--config", filepath.Join(dir, "none.yaml")}, 1, "", "none.yaml"},
		{"quiet check of a good config", []string{"check", "--quiet", "--no-bind", "--config", "../../config.example.yaml"}, 0, "", ""},
		{"a port another program holds", []string{"check", "--config", taken}, 1, "", "is in use by edgecam.test (pid "},
		{"a free port", []string{"check", "--config", free}, 0, ": ok", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", "unknown command"},
		{"version", []string{"version"}, 0, "edgecam ", ""},
		{"help", []string{"--help"}, 0, "edgecam run", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.err) {
				t.Fatalf("stdout %q, stderr %q; want %q / %q", stdout.String(), stderr.String(), tc.out, tc.err)
			}
			if strings.Contains(stdout.String()+stderr.String(), "s3cret") {
				t.Fatal("password printed")
			}
			if slices.Contains(tc.args, "--quiet") && stdout.Len() > 0 {
				t.Fatalf("--quiet printed %q", stdout.String())
			}
		})
	}
}

func TestPasswdMakesHashesTheConfigAccepts(t *testing.T) {
	r, w, _ := os.Pipe()
	w.WriteString("correct horse\n")
	w.Close()
	var out, errb bytes.Buffer
	if code := cmdPasswd(nil, r, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	hash := strings.TrimSpace(out.String())
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse")); err != nil {
		t.Fatalf("hash %q does not match: %v", hash, err)
	}

	out.Reset()
	if code := cmdPasswd([]string{"--token"}, r, &out, &errb); code != 0 || !strings.Contains(out.String(), "sha256: ") {
		t.Fatalf("token: exit %d, %s", code, out.String())
	}

	r2, w2, _ := os.Pipe()
	w2.WriteString("short\n")
	w2.Close()
	if code := cmdPasswd(nil, r2, &out, &errb); code != 1 {
		t.Fatalf("short password accepted")
	}
}
