package ratelimit

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// One client address holds at most perAddr connections, whatever ports it
// dials from (each connection has a port of its own, so a limit keyed by
// port would limit nothing), and a place is free again once its connection
// closes.
func TestOneAddressHoldsAtMostPerAddrConnections(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitConns(raw, 2)
	accepted := make(chan net.Conn, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	})
	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", raw.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	next := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not accepted within 5 s", what)
			return nil
		}
	}
	// closed reports whether the server closed c: a read ends at once
	// with EOF or a reset rather than at the deadline.
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}

	dial()
	first := next("the first connection")
	dial()
	next("the second connection")
	if third := dial(); !closed(third) {
		t.Fatal("a third connection from 127.0.0.1, from a port of its own, was kept open with a limit of 2")
	}
	first.Close()
	dial()
	next("a connection after one of the two closed")
}
