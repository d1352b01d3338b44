// Package e2e holds edgecam's end-to-end tests, each tier behind a build tag
// so that go test ./... stays fast: browser (headless Chromium against the
// page, in a network namespace of its own; needs root, chromium and ffmpeg),
// fault (cameras killed, hung, garbled or lossy while others keep
// streaming) and soak (viewer churn over minutes, memory and goroutines
// flat). make test runs every tier.
package e2e
