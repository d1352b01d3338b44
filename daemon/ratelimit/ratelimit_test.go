package ratelimit

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestLimiterAllowsNPerWindowPerKey(t *testing.T) {
	l := New(3, time.Hour)
	for i := range 3 {
		if !l.Allow("10.0.0.1") {
			t.Fatalf("event %d refused, want the first 3 allowed", i+1)
		}
	}
	if l.Peek("10.0.0.1") || l.Allow("10.0.0.1") {
		t.Fatal("a 4th event in the window was allowed")
	}
	if !l.Allow("10.0.0.2") {
		t.Fatal("another address was refused: limits must be per key")
	}
}

func TestLimiterForgetsEventsOutsideTheWindow(t *testing.T) {
	l := New(1, 50*time.Millisecond)
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("want one event allowed, the second refused")
	}
	time.Sleep(80 * time.Millisecond)
	if !l.Peek("a") || !l.Allow("a") {
		t.Fatal("an event after the window passed was refused")
	}
}

func TestPeekRecordsNothing(t *testing.T) {
	l := New(1, time.Hour)
	for range 5 {
		if !l.Peek("a") {
			t.Fatal("Peek refused before any event")
		}
	}
	if !l.Allow("a") {
		t.Fatal("Peek used up the limit")
	}
}

func TestLimiterTableStaysSmall(t *testing.T) {
	l := New(1, time.Millisecond)
	for i := range 3 * pruneAbove {
		l.Allow(strconv.Itoa(i))
		if i == pruneAbove {
			time.Sleep(5 * time.Millisecond)
		}
	}
	l.mu.Lock()
	n := len(l.seen)
	l.mu.Unlock()
	if n > 2*pruneAbove+1 {
		t.Fatalf("%d keys kept, want expired ones pruned", n)
	}
}

func TestClientAddrDropsThePort(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.168.1.20:54321"
	if got := ClientAddr(r); got != "192.168.1.20" {
		t.Errorf("ClientAddr = %q", got)
	}
	r.RemoteAddr = "[fe80::1]:80"
	if got := ClientAddr(r); got != "fe80::1" {
		t.Errorf("ClientAddr = %q", got)
	}
}
