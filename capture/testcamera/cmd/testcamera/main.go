// Command testcamera runs the edgecam test camera as its own process, so that
// tests can treat it as a real camera: kill it, or freeze it with SIGSTOP
// (TCP connections stay open, nothing is sent) and thaw it with SIGCONT.
//
// It prints the URL to play on the first line of standard output once it
// listens, and runs until SIGINT or SIGTERM.
//
//	testcamera -addr 127.0.0.1:8554 -path /stream
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgecam/edgecam/capture/testcamera"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "RTSP listen address (port 0 picks a free port)")
	path := flag.String("path", "/stream", "stream path")
	flag.Parse()

	cam, err := testcamera.Start(testcamera.Options{Addr: *addr, Path: *path})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcamera:", err)
		os.Exit(1)
	}
	fmt.Println(cam.URL())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	cam.Close()
}
