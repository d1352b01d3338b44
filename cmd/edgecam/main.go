// Command edgecam serves IP cameras to browsers on the LAN.
//
// It only parses the command line; the daemon package does the work.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/capture/redact"
	"github.com/edgecam/edgecam/daemon"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/stream/frames"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

const defaultConfig = "/etc/edgecam/config.yaml"

const usage = `edgecam — watch RTSP IP cameras live in any browser on the LAN

SYNOPSIS
  edgecam run [--config PATH] [--state-dir DIR] [--demo [--demo-rtsp ADDR]]
  edgecam demo-camera [--listen ADDR]
  edgecam check [--config PATH] [--quiet] [--no-bind]
  edgecam passwd [--token]
  edgecam probe [--transport auto|tcp|udp] [--time 10s] rtsp://…
  edgecam discover [--interface NAME] [--timeout 3s] [--device URL]…
                   [--user USER [--password P]] [--inline-credentials]
  edgecam version
  edgecam help

DESCRIPTION
  edgecam pulls each configured camera's H.264 or H.265 over RTSP and forwards it
  untouched to browsers over WebRTC (WHEP), with JPEG fallbacks (MJPEG,
  WebSocket, snapshots) decoded by ffmpeg only while someone watches them.

COMMANDS
  run       Run the daemon until SIGINT or SIGTERM.
            --config PATH  configuration file (default /etc/edgecam/config.yaml)
            --state-dir DIR  where the key that signs page logins is kept,
                           made there if missing (default $STATE_DIRECTORY,
                           which systemd sets); without one, page logins
                           end when edgecam stops
            --demo         replace the cameras with a built-in test camera; the
                           file's other settings are used if it exists, else
                           the defaults with auth none
            --demo-rtsp ADDR  where that camera serves RTSP (default
                           127.0.0.1:8554; port 0 picks a free one)
  demo-camera
            Serve only the built-in test camera, at rtsp://ADDR/demo, until
            SIGINT or SIGTERM: a camera for an installed edgecam to pull.
            --listen ADDR  host:port (default 127.0.0.1:8554)
  check     Validate the configuration: every problem with file, line and
            key; then list the cameras it would start (passwords masked).
            Warns when ffmpeg is missing. Exit 1 on any problem.
            --config PATH  as for run
            Binds the listen address and UDP port for a moment to see that
            they are free, and names the program holding a taken one (with
            sudo, for another user's); a port held by a running edgecam is
            fine.
            --quiet        print only the problems
            --no-bind      skip that: the unit's reload runs check --quiet
                           --no-bind before it signals edgecam, whose ports
                           a reload does not change
  passwd    Print a bcrypt hash for auth.users[].password_hash, reading the
            password from the terminal (twice) or from standard input.
            --token        instead, make a random API token and print it with
                           the sha256 for auth.tokens[]
  probe     Connect to one camera URL and print what the configuration
            needs: tracks and codecs, profile and level, resolution, fps,
            keyframe interval, B-frames, bitrate, the transport that worked,
            and whether edgecam can forward the video to browsers as it is.
            Exit 1 when it cannot. Quote the URL for the shell.
            --transport    auto (default), tcp or udp
            --time D       listen at most this long (default 10s)
  discover  Find ONVIF cameras on the LAN (WS-Discovery on UDP 3702), ask
            each for its streams, probe them, and print YAML to paste under
            cameras: (main stream as url, the smallest as sub_url). Devices
            that refuse the credentials or do not answer are listed in
            comments with the reason. Exit 1 when no camera was found.
            --interface NAME  probe on this interface only (lo allowed)
            --timeout D    wait this long for answers (default 3s)
            --device URL   ask http://ip/onvif/device_service directly
                           instead of probing (repeatable)
            --user USER    ONVIF and RTSP user; the password comes from
                           --password, $EDGECAM_ONVIF_PASSWORD or a prompt
            --inline-credentials  put the password into the URLs
            --probe-time D probe each stream this long (default 5s; 0 skips)
  version   Print the version.

SIGNALS
  SIGHUP    re-read the configuration (systemctl reload edgecam): unchanged
            cameras keep streaming and keep their viewers; removed cameras
            stop; added ones start; changed ones restart; users and tokens
            are updated. An invalid file is logged and changes nothing.
            http.* and webrtc.* changes need a restart.
  SIGTERM   stop cleanly (within a few seconds).

ENDPOINTS (default http://<box>:8080)
  /                               the camera wall (web page)
  /api/cameras, /api/cameras/NAME camera health as JSON
  /cameras/NAME/whep              WHEP: POST an SDP offer (WebRTC)
  /cameras/NAME/mjpeg             MJPEG   ?fps= &width= &quality=
  /cameras/NAME/ws                JPEG frames over a WebSocket
  /cameras/NAME/snapshot.jpg      one JPEG
  /healthz                        200 while running
  WebRTC media uses one UDP port (webrtc.udp_port, default 8189).

FILES
  /etc/edgecam/config.yaml        configuration (see config.example.yaml)

ENVIRONMENT
  NOTIFY_SOCKET, WATCHDOG_USEC    set by systemd: readiness, status, watchdog
  EDGECAM_ONVIF_PASSWORD          the password for discover --user

EXIT STATUS
  0 success; 1 a configuration or runtime error; 2 a usage error.

EXAMPLES
  edgecam run --demo                      then open http://localhost:8080/
  sudo edgecam check --config /etc/edgecam/config.yaml
  edgecam passwd < password.txt
  ffplay http://box:8080/cameras/press-1/mjpeg
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "demo-camera":
		return cmdDemoCamera(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "probe":
		return cmdProbe(args[1:], stdout, stderr)
	case "discover":
		return cmdDiscover(args[1:], os.Stdin, stdout, stderr)
	case "passwd":
		return cmdPasswd(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "edgecam", buildVersion())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "edgecam: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func flags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	path := fs.String("config", defaultConfig, "configuration file")
	return fs, path
}

func cmdRun(args []string, stderr io.Writer) int {
	fs, path := flags("run", stderr)
	demo := fs.Bool("demo", false, "run with the built-in test camera")
	demoRTSP := fs.String("demo-rtsp", daemon.DemoRTSP, "where the demo camera serves RTSP")
	// systemd sets STATE_DIRECTORY from the unit's StateDirectory=, a
	// colon-separated list whose first entry is edgecam's.
	stateDir, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":")
	fs.StringVar(&stateDir, "state-dir", stateDir, "where page logins' key is kept (default $STATE_DIRECTORY)")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	var cfg *config.Config
	var err error
	if *demo {
		// The demo needs no config file; use one if it is there and valid.
		if _, statErr := os.Stat(*path); statErr == nil {
			cfg, err = config.Load(*path)
		}
	} else {
		cfg, err = config.Load(*path)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	load := func() (*config.Config, error) { return config.Load(*path) }
	if *demo {
		d, err := daemon.StartDemo(*demoRTSP)
		if err != nil && !flagSet(fs, "demo-rtsp") {
			// The default port is taken (another RTSP server): a newcomer
			// still gets a demo, on any free port.
			d, err = daemon.StartDemo("127.0.0.1:0")
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer d.Close()
		cfg = d.Config(cfg)
		load = func() (*config.Config, error) {
			if _, err := os.Stat(*path); err != nil {
				return d.Config(nil), nil
			}
			c, err := config.Load(*path)
			if err != nil {
				return nil, err
			}
			return d.Config(c), nil
		}
	}
	level := daemon.NewLevel(cfg.Log.Level)
	log := daemon.NewLogger(stderr, level)

	// The watchdog's SIGABRT: a short dump, not every goroutine.
	defer handleWatchdogAbort(stderr)()

	// SIGHUP (systemctl reload) re-reads the configuration.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer func() {
		signal.Stop(hup)
		close(hup) // ends the forwarding goroutine
	}()
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()

	dm, err := daemon.New(cfg, daemon.Options{
		Logger:   log,
		LogLevel: level,
		Version:  buildVersion(),
		Reload:   reload,
		Load:     load,
		StateDir: stateDir,
		// One core while the load allows: see package procs.
		AdaptProcs: true,
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := dm.Run(ctx); err != nil {
		log.Error("edgecam failed", "error", err)
		return 1
	}
	return 0
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs, path := flags("check", stderr)
	quiet := fs.Bool("quiet", false, "print only the problems")
	noBind := fs.Bool("no-bind", false, "do not check that the listen address and UDP port are free")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		var errs *config.Errors
		if errors.As(err, &errs) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n", *path, len(errs.Problems))
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := cfg.CheckAccess(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		return 1
	}
	if ps := checkPorts(cfg, *noBind); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintf(stderr, "%s: %s\n", *path, p)
		}
		return 1
	}
	if *quiet {
		return 0
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	scheme := "http"
	if cfg.HTTP.TLS.Cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "%s: %s, webrtc udp port %d, auth: %s\n", scheme, cfg.HTTP.Listen, cfg.WebRTC.UDPPort, cfg.Auth.EffectiveMode(cfg.HTTP.Listen))
	if len(cfg.Cameras) == 0 {
		fmt.Fprintln(stdout, "warning: no cameras configured")
	}
	ffmpeg := frames.Settings{FFmpeg: cfg.JPEG.FFmpeg}.WithDefaults().FFmpeg
	if _, err := exec.LookPath(ffmpeg); err != nil {
		fmt.Fprintf(stdout, "warning: ffmpeg not found (jpeg.ffmpeg: %q): the MJPEG, WebSocket and snapshot endpoints will answer 503; install it with apt-get install ffmpeg\n", ffmpeg)
	}
	for _, c := range cfg.Cameras {
		mode := "always pulled"
		if c.OnDemand {
			mode = "on demand"
		}
		if c.Disabled {
			mode = "disabled"
		}
		transport := capture.Config{Transport: capture.Transport(c.Transport)}.WithDefaults().Transport
		fmt.Fprintf(stdout, "camera %-16s %s (%s, %s)\n", c.Name, c.RedactedURL(), transport, mode)
		if c.SubURL != "" {
			sub := capture.Config{Transport: capture.Transport(c.SubStreamTransport())}.WithDefaults().Transport
			fmt.Fprintf(stdout, "%-24s%s (%s)\n", "  sub-stream", c.RedactedSubURL(), sub)
		}
	}
	return 0
}

func cmdProbe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	transport := fs.String("transport", "auto", "auto, tcp or udp")
	d := fs.Duration("time", 10*time.Second, "how long to listen at most")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch tr := capture.Transport(*transport); {
	case fs.NArg() != 1, tr != capture.TransportAuto && tr != capture.TransportTCP && tr != capture.TransportUDP:
		fmt.Fprintln(stderr, "usage: edgecam probe [--transport auto|tcp|udp] [--time 10s] rtsp://user:pass@camera/path")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := capture.Probe(ctx, fs.Arg(0), capture.Transport(*transport), *d)
	if err != nil {
		fmt.Fprintf(stderr, "probe %s: %v\n", redact.URL(fs.Arg(0)), err)
		return 1
	}
	p := func(k, f string, a ...any) { fmt.Fprintf(stdout, "%-18s "+f+"\n", append([]any{k + ":"}, a...)...) }
	p("camera", "%s", r.URL)
	p("tracks", "%s", strings.Join(r.Tracks, ", "))
	if r.Width > 0 {
		p("video", "%s %s level %s, %dx%d, %.2f fps", r.Codec, r.Profile, r.Level, r.Width, r.Height, r.FPS)
		if r.KeyframeInterval > 0 {
			p("keyframe interval", "%s (%d frames)", r.KeyframeInterval.Round(10*time.Millisecond), r.GOPFrames)
		} else {
			p("keyframe interval", "not measured")
		}
		p("b-frames", "%s", map[bool]string{true: "yes", false: "no"}[r.BFrames])
		p("bitrate", "%.0f kbit/s", r.Bitrate/1000)
		p("transport", "%s", r.Transport)
		p("frames received", "%d", r.Frames)
	}
	verdict := "yes: edgecam forwards this stream to browsers as it is"
	if !r.Forwardable {
		verdict = "no"
	}
	p("forwardable", "%s", verdict)
	for _, pr := range r.Problems {
		p("note", "%s", pr)
	}
	if !r.Forwardable {
		return 1
	}
	return 0
}

// cmdPasswd prints a bcrypt hash for auth.users, reading the password from
// the terminal (twice, not echoed) or from standard input; with --token it
// makes a random API token and the SHA-256 that goes into auth.tokens.
func cmdPasswd(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	token := fs.Bool("token", false, "make an API token instead of a password hash")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *token {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		tok := base64.RawURLEncoding.EncodeToString(b[:])
		sum := sha256.Sum256([]byte(tok))
		fmt.Fprintf(stdout, "token (give it to the script; it is shown only now): %s\n", tok)
		fmt.Fprintf(stdout, "config:\n  auth:\n    tokens:\n      - name: my-script\n        sha256: %s\n", hex.EncodeToString(sum[:]))
		return 0
	}
	var pass []byte
	if term.IsTerminal(int(stdin.Fd())) {
		fmt.Fprint(stderr, "password: ")
		p1, err := term.ReadPassword(int(stdin.Fd()))
		fmt.Fprint(stderr, "\nagain: ")
		p2, err2 := term.ReadPassword(int(stdin.Fd()))
		fmt.Fprintln(stderr)
		if err != nil || err2 != nil {
			fmt.Fprintln(stderr, "edgecam passwd: cannot read the password")
			return 1
		}
		if string(p1) != string(p2) {
			fmt.Fprintln(stderr, "edgecam passwd: the passwords differ")
			return 1
		}
		pass = p1
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr, "edgecam passwd: give the password on standard input")
			return 1
		}
		pass = []byte(strings.TrimRight(line, "\r\n"))
	}
	if len(pass) < 8 {
		fmt.Fprintln(stderr, "edgecam passwd: use at least 8 characters")
		return 1
	}
	hash, err := bcrypt.GenerateFromPassword(pass, bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintln(stderr, "edgecam passwd:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", hash)
	return 0
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// cmdDemoCamera serves the demo camera alone, for an installed edgecam.
func cmdDemoCamera(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo-camera", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", daemon.DemoRTSP, "host:port to serve RTSP on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	d, err := daemon.StartDemo(*listen)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer d.Close()
	fmt.Fprintf(stdout, "demo camera at %s; add it to the configuration as\n  - name: demo\n    url: %s\nthen systemctl reload edgecam. Ctrl-C stops it.\n", d.URL(), d.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return 0
}

// flagSet reports whether the command line set the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
