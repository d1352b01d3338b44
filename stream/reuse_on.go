//go:build !edgecam_noreuse

package stream

// reuseGOPMemory cuts units from a stream's unitMemory, so that an unwatched
// camera reuses its last GOP's memory (unitmem.go). The edgecam_noreuse
// build tag turns it off, allocating every unit, to measure the gain:
//
//	go test -run '^$' -bench 'WriteAccessUnit/0' -benchmem ./stream
//	go test -run '^$' -bench 'WriteAccessUnit/0' -benchmem -tags edgecam_noreuse ./stream
//
// It could go if the GC's cost per unwatched camera fell to nothing.
const reuseGOPMemory = true
