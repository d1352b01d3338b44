//go:build !race

package whep

// raceDetector reports whether the tests run with -race, which slows
// pion's receive path several times over: ten receivers in the test's own
// process then drain their sockets slower than any real viewer does.
const raceDetector = false
