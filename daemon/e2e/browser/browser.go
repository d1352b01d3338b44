// Package browser holds edgecam's browser tests (build tag browser): the
// page in Debian's headless Chromium against a daemon and test cameras, in
// a network namespace of its own. They need root, chromium, ffmpeg and ip.
package browser
