// Package soak holds edgecam's soak test (build tag soak): viewers joining
// and leaving for minutes, after which goroutines and memory must be back
// where they were. EDGECAM_SOAK sets how long.
package soak
