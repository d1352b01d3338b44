package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// When the daemon stops answering, systemd's watchdog sends SIGABRT, on
// which Go prints every goroutine's stack: hundreds of lines in the
// journal, the one that matters somewhere among them. edgecam answers the
// signal itself with the few goroutines that have waited longest, locks
// first, and exits for systemd to restart it.

// watchdogShown is how many goroutines the dump shows.
const watchdogShown = 3

// handleWatchdogAbort installs the SIGABRT handler; stop removes it.
func handleWatchdogAbort(stderr io.Writer) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGABRT)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			fmt.Fprint(stderr, shortDump(allStacks(), watchdogShown))
			os.Exit(2)
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func allStacks() []byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

var goroutineHeader = regexp.MustCompile(`^goroutine \d+ \[([^\]]*)\]:`)

// shortDump keeps the n goroutines of a full dump most likely to be stuck:
// the longest waits first (Go notes waits of a minute and more), and among
// equal waits those on a lock.
func shortDump(dump []byte, n int) string {
	type g struct {
		text  string
		score int
	}
	var gs []g
	for _, block := range strings.Split(strings.TrimSpace(string(dump)), "\n\n") {
		m := goroutineHeader.FindStringSubmatch(block)
		if m == nil || strings.Contains(block, "main.allStacks(") {
			continue // not a goroutine, or the one writing this
		}
		state := m[1]
		score := 0
		if f := strings.Fields(state); len(f) >= 2 && strings.HasPrefix(f[len(f)-1], "minute") {
			minutes, _ := strconv.Atoi(f[len(f)-2])
			score = 10 * minutes
		}
		if strings.Contains(state, "Mutex") || strings.Contains(state, "semacquire") {
			score += 5
		}
		gs = append(gs, g{block, score})
	}
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].score > gs[j].score })
	var b strings.Builder
	fmt.Fprintf(&b, "edgecam: the watchdog expired (the daemon stopped answering); the %d of %d goroutines most likely stuck, longest waits and locks first:\n\n", min(n, len(gs)), len(gs))
	for i := 0; i < n && i < len(gs); i++ {
		b.WriteString(gs[i].text)
		b.WriteString("\n\n")
	}
	return b.String()
}
