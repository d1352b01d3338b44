package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/edgecam/edgecam/capture/onvif/onviftest"
)

func TestDiscoverAsksDevicesGivenByAddress(t *testing.T) {
	const password = "env-only-S3cret"
	dev, err := onviftest.Start(onviftest.Options{User: "admin", Password: password, Name: "Gate",
		Profiles: []onviftest.Profile{{Token: "p1", Width: 1920, Height: 1080, URI: "rtsp://127.0.0.1:554/main"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	t.Setenv(passwordEnv, password)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"password from the environment", []string{"--user", "admin", "--probe-time", "0", "--device", dev.XAddr()}, 0, "url: rtsp://admin@127.0.0.1:554/main", "1 of 1 device(s)"},
		{"inlined on request", []string{"--user", "admin", "--probe-time", "0", "--inline-credentials", "--device", dev.XAddr()}, 0, "url: rtsp://admin:" + password + "@127.0.0.1:554/main", ""},
		{"no credentials", []string{"--probe-time", "0", "--device", dev.XAddr()}, 1, "run with --user", "0 of 1 device(s)"},
		{"stray argument", []string{"eth0"}, 2, "", "usage: edgecam discover"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"discover"}, tc.args...), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.err) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q / %q", code, tc.code, stdout.String(), stderr.String(), tc.out, tc.err)
			}
			if !strings.Contains(strings.Join(tc.args, " "), "--inline") && strings.Contains(stdout.String()+stderr.String(), password) {
				t.Fatal("password printed")
			}
		})
	}
}
