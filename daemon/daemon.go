// Package daemon wires edgecam together: it reads the configuration, runs
// one capture and one stream per camera, serves the HTTP API, the page and
// WHEP, and talks to systemd.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/stream"
)

// onDemandLinger is how long an on-demand camera stays pulled after its last
// viewer left, so a page reload or a quick view switch does not reconnect.
const onDemandLinger = 10 * time.Second

// shutdownGrace bounds how long the HTTP server waits for requests on stop;
// systemd's stop timeout must not be reached.
const shutdownGrace = 2 * time.Second

// Options are the daemon's settings that do not come from the config file.
type Options struct {
	// Logger receives all logs; nil means slog.Default().
	Logger *slog.Logger
	// Version is reported by the API and the log.
	Version string
	// OnDemandLinger overrides how long an on-demand camera stays pulled
	// after its last viewer leaves; zero means 10 s.
	OnDemandLinger time.Duration
}

// Daemon is a running edgecam. Create it with New, then call Run.
type Daemon struct {
	cfg  *config.Config
	opts Options
	log  *slog.Logger

	rtc     *stream.WebRTC
	cameras []*cameraUnit
	byName  map[string]*cameraUnit

	ready    chan struct{}
	httpAddr string
	started  time.Time
}

// cameraUnit is one configured camera: its capture, its stream and the
// goroutine that owns them.
type cameraUnit struct {
	cfg config.Camera
	cam *capture.Camera
	st  *stream.Stream
}

// New checks cfg and prepares a daemon; nothing listens until Run.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.OnDemandLinger <= 0 {
		opts.OnDemandLinger = onDemandLinger
	}
	d := &Daemon{
		cfg:    cfg,
		opts:   opts,
		log:    opts.Logger,
		byName: make(map[string]*cameraUnit),
		ready:  make(chan struct{}),
	}
	for _, c := range cfg.Cameras {
		u := &cameraUnit{cfg: c}
		if !c.Disabled {
			u.st = stream.New(c.Name, stream.Options{MaxReaders: c.MaxViewers})
			u.cam = capture.New(capture.Config{
				Name:           c.Name,
				URL:            c.URL,
				Transport:      c.Transport,
				ConnectTimeout: c.ConnectTimeout.D(),
				ReadTimeout:    c.ReadTimeout.D(),
			}, streamSink{u.st}, d.log.With("camera", c.Name))
		}
		d.cameras = append(d.cameras, u)
		d.byName[c.Name] = u
	}
	return d, nil
}

// Ready is closed once the HTTP server listens and the cameras are started.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// HTTPAddr is the address the HTTP server listens on; valid after Ready.
func (d *Daemon) HTTPAddr() string { return d.httpAddr }

// Run serves until ctx ends, then stops everything and returns. It returns an
// error only when it cannot start (a port in use).
func (d *Daemon) Run(ctx context.Context) error {
	d.started = time.Now()
	ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", d.cfg.HTTP.Listen, err)
	}
	d.httpAddr = ln.Addr().String()

	rtc, err := stream.NewWebRTC(stream.WebRTCConfig{
		UDPPort:     d.cfg.WebRTC.UDPPort,
		Interfaces:  d.cfg.WebRTC.Interfaces,
		Hosts:       d.cfg.WebRTC.Hosts,
		MaxSessions: d.cfg.WebRTC.MaxViewers,
	}, d.log)
	if err != nil {
		ln.Close()
		return err
	}
	d.rtc = rtc

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	goRun := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}

	goRun(func() { _ = rtc.Run(ctx) })
	for _, u := range d.cameras {
		if u.cam == nil {
			continue
		}
		goRun(func() { d.runCamera(ctx, u) })
	}

	srv := &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	goRun(func() { serveErr <- srv.Serve(ln) })

	d.log.Info("edgecam started", "version", d.opts.Version, "http", d.httpAddr,
		"webrtc_udp", addrList(rtc.LocalAddrs()), "cameras", len(d.cameras))
	close(d.ready)
	notifyReady(d.statusLine())
	goRun(func() { d.superviseHealth(ctx) })

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("http: %w", err)
		}
	}
	notifyStopping()
	d.log.Info("edgecam stopping")
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), shutdownGrace)
	_ = srv.Shutdown(shutdownCtx)
	done()
	_ = srv.Close()
	for _, u := range d.cameras {
		if u.st != nil {
			u.st.Close()
		}
	}
	wg.Wait()
	d.log.Info("edgecam stopped")
	return runErr
}

// runCamera pulls a camera: always, or only while it has viewers.
func (d *Daemon) runCamera(ctx context.Context, u *cameraUnit) {
	if !u.cfg.OnDemand {
		_ = u.cam.Run(ctx)
		return
	}
	var (
		pullCancel context.CancelFunc
		pullDone   chan struct{}
		linger     *time.Timer
		lingerC    <-chan time.Time
	)
	stop := func() {
		if pullCancel != nil {
			pullCancel()
			<-pullDone
			pullCancel, pullDone = nil, nil
			d.log.Info("on-demand camera released", "camera", u.cfg.Name)
		}
	}
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.st.ReadersChanged():
		case <-lingerC:
			lingerC = nil
			if u.st.Readers() == 0 {
				stop()
			}
			continue
		}
		n := u.st.Readers()
		switch {
		case n > 0 && pullCancel == nil:
			pctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			pullCancel, pullDone = cancel, done
			go func() {
				defer close(done)
				_ = u.cam.Run(pctx)
			}()
			d.log.Info("on-demand camera pulled", "camera", u.cfg.Name)
		case n == 0 && pullCancel != nil && lingerC == nil:
			if linger == nil {
				linger = time.NewTimer(d.opts.OnDemandLinger)
			} else {
				linger.Reset(d.opts.OnDemandLinger)
			}
			lingerC = linger.C
		}
	}
}

// streamSink adapts a stream to capture's Sink so neither imports the other.
type streamSink struct{ st *stream.Stream }

func (s streamSink) WriteAccessUnit(au *capture.AccessUnit) {
	s.st.WriteAccessUnit(au.NALUs, au.PTS, au.IDR, au.Session, au.Received)
}

func addrList(addrs []net.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
