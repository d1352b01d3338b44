package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/edgecam/edgecam/capture/discover"
)

// passwordEnv holds the ONVIF password when --password is not given, so
// that it stays out of the process list and the shell history.
const passwordEnv = "EDGECAM_ONVIF_PASSWORD"

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// cmdDiscover finds ONVIF cameras and prints YAML for the cameras list on
// stdout; progress and problems go to stderr.
func cmdDiscover(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o discover.Options
	var devices listFlag
	fs.StringVar(&o.Interface, "interface", "", "probe on this interface only")
	fs.DurationVar(&o.Wait, "timeout", discover.DefaultWait, "how long to wait for answers to the probe")
	fs.Var(&devices, "device", "ask this device service address instead of probing (repeatable)")
	fs.StringVar(&o.User, "user", "", "ONVIF and RTSP user")
	password := fs.String("password", "", "ONVIF and RTSP password (prefer $"+passwordEnv+" or the prompt)")
	inline := fs.Bool("inline-credentials", false, "put the password into the printed URLs")
	probeTime := fs.Duration("probe-time", discover.DefaultProbeTime, "how long to probe each stream; 0 skips probing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || o.Wait <= 0 || *probeTime < 0 {
		fmt.Fprintln(stderr, "usage: edgecam discover [--interface NAME] [--timeout 3s] [--device URL]… [--user USER [--password P]] [--inline-credentials] [--probe-time 5s]")
		return 2
	}
	o.Devices, o.NoMulticast = devices, len(devices) > 0
	o.ProbeTime = *probeTime
	if o.ProbeTime == 0 {
		o.ProbeTime = -1
	}
	o.Password = *password
	if o.User != "" && !flagSet(fs, "password") {
		var err error
		if o.Password, err = onvifPassword(o.User, stdin, stderr); err != nil {
			fmt.Fprintf(stderr, "edgecam discover: %v\n", err)
			return 1
		}
	}
	o.Log = stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	cams, err := discover.Find(ctx, o)
	if err != nil && len(cams) == 0 {
		fmt.Fprintf(stderr, "edgecam discover: %v\n", err)
		return 1
	}
	out := discover.Output{User: o.User, Password: o.Password, InlineCredentials: *inline}
	if err := discover.WriteYAML(stdout, cams, out); err != nil {
		fmt.Fprintf(stderr, "edgecam discover: %v\n", err)
		return 1
	}
	added := 0
	for _, c := range cams {
		if c.Err == nil && c.Main != nil {
			added++
		}
	}
	fmt.Fprintf(stderr, "%d of %d device(s) gave a camera entry, in %s\n", added, len(cams), time.Since(start).Round(100*time.Millisecond))
	if added == 0 {
		return 1
	}
	return 0
}

// onvifPassword reads the password for user from the environment, else
// from the terminal without echo, else one line of standard input.
func onvifPassword(user string, stdin *os.File, stderr io.Writer) (string, error) {
	if p, ok := os.LookupEnv(passwordEnv); ok {
		return p, nil
	}
	if stdin == nil {
		return "", nil
	}
	if term.IsTerminal(int(stdin.Fd())) {
		fmt.Fprintf(stderr, "ONVIF password for %s: ", user)
		p, err := term.ReadPassword(int(stdin.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("cannot read the password: %w", err)
		}
		return string(p), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("cannot read the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
