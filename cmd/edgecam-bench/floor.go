package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// floorCase is one measurement of the floor: what a Go process pays only to
// be woken for every packet of n cameras and to hand each frame to another
// goroutine that sends it as one UDP datagram, with none of RTSP, RTP, SRTP
// or RTCP. A relay cannot cost less than this on the same machine.
type floorCase struct {
	Name        string
	Conns, Pkts int // connections, packets per frame
	Size        int // bytes per packet
	FPS         int
	ReadOnly    bool
	// Direct reads with raw system calls and sends each frame from the
	// reading goroutine, as edgecam does: no goroutine
	// hand-off, and no wake-up of the runtime's monitor thread per call.
	Direct        bool
	CPUPct, USPkt float64
}

var floorCases = []floorCase{
	{Name: "8 cameras 360p (5 packets of 1000 B a frame), read only", Conns: 8, Pkts: 5, Size: 1000, FPS: 30, ReadOnly: true},
	{Name: "8 cameras 360p, read and send each frame on", Conns: 8, Pkts: 5, Size: 1000, FPS: 30},
	{Name: "1 camera 1080p (13 packets of 1400 B a frame), read and send each frame on", Conns: 1, Pkts: 13, Size: 1400, FPS: 30},
	{Name: "8 cameras 360p, read and send each frame on, raw system calls on one goroutine", Conns: 8, Pkts: 5, Size: 1000, FPS: 30, Direct: true},
	{Name: "1 camera 1080p, read and send each frame on, raw system calls on one goroutine", Conns: 1, Pkts: 13, Size: 1400, FPS: 30, Direct: true},
}

// runFloor measures every floorCase for window and prints a table.
func runFloor(ctx context.Context, window time.Duration) error {
	fmt.Printf("| floor: bare Go relay, %v window | CPU %% of a core | µs per packet |\n| --- | --- | --- |\n", window)
	for _, c := range floorCases {
		if err := c.measure(ctx, window); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		fmt.Printf("| %s | %.2f | %.1f |\n", c.Name, c.CPUPct, c.USPkt)
	}
	return nil
}

func (c *floorCase) measure(ctx context.Context, window time.Duration) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// The cameras are another process, so their writes are not counted.
	w := exec.CommandContext(ctx, os.Args[0], "-floor-cameras", strings.Join([]string{ln.Addr().String(),
		strconv.Itoa(c.Conns), strconv.Itoa(c.Pkts), strconv.Itoa(c.Size), strconv.Itoa(c.FPS)}, ","))
	out, err := w.StdoutPipe()
	if err != nil {
		cancel()
		return err
	}
	if err := w.Start(); err != nil {
		cancel()
		return err
	}
	// Cancelling closes the connections, which ends the goroutines here
	// and the camera process.
	defer func() {
		cancel()
		wg.Wait()
		_ = w.Wait()
	}()
	sinkLine, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("camera process: %w", err)
	}
	sink, err := net.ResolveUDPAddr("udp", strings.TrimSpace(sinkLine))
	if err != nil {
		return err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer udp.Close()

	frameSize := c.Pkts * c.Size
	for range c.Conns {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		if c.Direct {
			read, send := rawRead(conn), rawSend(udp, sink)
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf, frame, got := make([]byte, 64<<10), make([]byte, frameSize), 0
				for {
					n, err := read(buf)
					if err != nil {
						return
					}
					for got += n; got >= frameSize; got -= frameSize {
						send(frame)
					}
				}
			}()
			continue
		}
		frames := make(chan []byte, 8)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for f := range frames {
				_, _ = udp.WriteToUDP(f, sink)
			}
		}()
		go func() {
			defer wg.Done()
			defer close(frames)
			buf, frame, got := make([]byte, 64<<10), make([]byte, frameSize), 0
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				for got += n; !c.ReadOnly && got >= frameSize; got -= frameSize {
					frames <- frame
				}
			}
		}()
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	before := processCPU()
	if err := sleepCtx(ctx, window); err != nil {
		return err
	}
	cpu := processCPU() - before
	c.CPUPct = 100 * cpu.Seconds() / window.Seconds()
	c.USPkt = float64(cpu.Microseconds()) / (window.Seconds() * float64(c.Conns*c.FPS*c.Pkts))
	return nil
}

// runFloorCameras is the camera side of the floor: spec is
// addr,conns,packets,size,fps. Each connection gets fps frames a second of
// packets written one by one, as a camera writes RTP packets; a UDP socket
// whose address is printed first swallows what the relay sends on.
func runFloorCameras(spec string) error {
	f := strings.Split(spec, ",")
	if len(f) != 5 {
		return fmt.Errorf("-floor-cameras %q: want addr,conns,packets,size,fps", spec)
	}
	n := make([]int, 4)
	for i := range n {
		v, err := strconv.Atoi(f[i+1])
		if err != nil || v <= 0 {
			return fmt.Errorf("-floor-cameras %q: %q is not a positive number", spec, f[i+1])
		}
		n[i] = v
	}
	conns, pkts, size, fps := n[0], n[1], n[2], n[3]
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(sink.LocalAddr())
	go func() {
		b := make([]byte, 64<<10)
		for {
			if _, _, err := sink.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	done := make(chan error, conns)
	for range conns {
		c, err := net.Dial("tcp", f[0])
		if err != nil {
			return err
		}
		go func() {
			pkt := make([]byte, size)
			t := time.NewTicker(time.Second / time.Duration(fps))
			defer t.Stop()
			for range t.C {
				for range pkts {
					if _, err := c.Write(pkt); err != nil {
						done <- err
						return
					}
				}
			}
		}()
	}
	<-done // the relay closed a connection: the measurement is over
	return nil
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
