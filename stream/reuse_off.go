//go:build edgecam_noreuse

package stream

// reuseGOPMemory is off: see reuse_on.go.
const reuseGOPMemory = false
