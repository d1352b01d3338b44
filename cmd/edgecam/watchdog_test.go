package main

import (
	"strconv"
	"strings"
	"testing"
)

// The journal gets the goroutine stuck on a lock for minutes first, and
// not the hundred idle ones.
func TestWatchdogDumpShowsTheStuckGoroutineFirst(t *testing.T) {
	var dump strings.Builder
	dump.WriteString("goroutine 1 [running]:\nmain.main()\n\tmain.go:10\n\n")
	for i := range 100 {
		dump.WriteString("goroutine " + strconv.Itoa(100+i) + " [select]:\nidle()\n\n")
	}
	dump.WriteString("goroutine 7 [sync.Mutex.Lock, 3 minutes]:\ncameras.(*Camera).Status()\n\tcameras.go:120\n\n")
	dump.WriteString("goroutine 8 [chan receive, 5 minutes]:\nwaiting()\n\n")
	out := shortDump([]byte(dump.String()), 3)
	first := strings.Index(out, "goroutine 8 [chan receive, 5 minutes]")
	second := strings.Index(out, "goroutine 7 [sync.Mutex.Lock, 3 minutes]")
	if first < 0 || second < 0 || first > second {
		t.Fatalf("the longest waits are not first:\n%s", out)
	}
	if n := strings.Count(out, "goroutine "); n != 3 {
		t.Fatalf("%d goroutines shown, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "3 of 103 goroutines") {
		t.Fatalf("the count is missing:\n%s", out)
	}
}
