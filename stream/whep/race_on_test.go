//go:build race

package whep

// raceDetector is on: see race_off_test.go.
const raceDetector = true
