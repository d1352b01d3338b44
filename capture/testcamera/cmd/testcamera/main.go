// Command testcamera runs the edgecam test camera as its own process, so that
// tests can treat it as a real camera: kill it, or freeze it with SIGSTOP
// (TCP connections stay open, nothing is sent) and thaw it with SIGCONT.
//
// It prints the URL to play on the first line of standard output once it
// listens, and runs until SIGINT or SIGTERM.
//
//	testcamera -addr 127.0.0.1:8554 -path /stream
//	testcamera -addr 127.0.0.1:8555 -codec h265   # an H.265 camera
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgecam/edgecam/capture/testcamera"
	"github.com/edgecam/edgecam/capture/testcamera/hevc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "RTSP listen address (port 0 picks a free port)")
	path := flag.String("path", "/stream", "stream path")
	codec := flag.String("codec", "h264", "h264, or h265 (the clip of package hevc)")
	flag.Parse()

	opts := testcamera.Options{Addr: *addr, Path: *path, Codec: *codec}
	if *codec == "h265" {
		opts.Clip = hevc.Clip()
	}
	cam, err := testcamera.Start(opts)
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
