// Package daemon wires edgecam together: it reads the configuration, runs
// one capture and one stream per camera, serves the HTTP API, the page,
// WHEP and the JPEG fallbacks, reloads the camera list on request, and talks
// to systemd.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/capture"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/procs"
	"github.com/edgecam/edgecam/stream"
	"github.com/edgecam/edgecam/stream/jpeg"
	"github.com/edgecam/edgecam/stream/whep"
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
	// LogLevel, when set, is the level of Logger's handler; a reload sets
	// it from the new config's log.level.
	LogLevel *slog.LevelVar
	// Version is reported in the log.
	Version string
	// OnDemandLinger overrides how long an on-demand camera stays pulled
	// after its last viewer leaves; zero means 10 s.
	OnDemandLinger time.Duration
	// Reload, when set, asks the daemon to apply a new configuration
	// (SIGHUP). Load is called to read it.
	Reload <-chan struct{}
	// Load reads the configuration again for a reload.
	Load func() (*config.Config, error)
	// AdaptProcs runs the Go code on one core while the load allows
	// (package procs), unless GOMAXPROCS is set in the environment. It
	// is for the edgecam program: GOMAXPROCS is the whole process's, so a
	// test running several daemons leaves it off.
	AdaptProcs bool
}

// Daemon is a running edgecam. Create it with New, then call Run.
type Daemon struct {
	cfg  *config.Config // as started: http and webrtc settings never change
	opts Options
	log  *slog.Logger

	rtc          *whep.Server
	set          atomic.Pointer[cameraSet]
	authp        atomic.Pointer[authenticator]
	sessionLimit *rateLimiter
	events       *eventBus
	metrics      *metrics
	quit         chan struct{} // closed when the daemon starts to stop

	// retired holds what stopped cameras counted, so that the daemon's
	// counters (edgecam_ffmpeg_restarts_total) never go down on a reload.
	// Its lock covers replacing the set, so that a scrape never sees a
	// camera both in the set and retired, or in neither.
	retired struct {
		sync.Mutex
		ffmpegRestarts uint64
	}

	ready    chan struct{}
	httpAddr string
}

// cameraSet is the current list of cameras. It is replaced whole on reload,
// so request handlers read one consistent snapshot without locks.
type cameraSet struct {
	list   []*cameraUnit
	byName map[string]*cameraUnit
}

// cameraUnit is one configured camera: its capture, its stream, its JPEG
// decoders and the goroutine that owns them.
type cameraUnit struct {
	cfg  config.Camera
	jcfg config.JPEG // effective JPEG settings
	// url is cfg.URL without its password, made once: the API and the
	// event scan show it many times a second.
	url  string
	cam  *capture.Camera
	st   *stream.Stream
	jpeg *jpeg.Hub

	mjpegViewers, wsViewers atomic.Int64

	stop context.CancelFunc
	done chan struct{}
}

// New checks cfg and prepares a daemon; nothing listens until Run.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.CheckAccess(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.OnDemandLinger <= 0 {
		opts.OnDemandLinger = onDemandLinger
	}
	d := &Daemon{
		cfg:   cfg,
		opts:  opts,
		log:   opts.Logger,
		ready: make(chan struct{}),

		// A runaway script from one address cannot exhaust the box.
		sessionLimit: newRateLimiter(cfg.HTTP.SessionsPerMinute, time.Minute),
		events:       newEventBus(),
		quit:         make(chan struct{}),
	}
	d.metrics = newMetrics(d)
	d.authp.Store(newAuthenticator(cfg))
	d.set.Store(d.buildSet(cfg, nil))
	return d, nil
}

// buildSet makes the camera set for cfg, reusing the running units of old
// whose settings did not change.
func (d *Daemon) buildSet(cfg *config.Config, old *cameraSet) *cameraSet {
	s := &cameraSet{byName: make(map[string]*cameraUnit)}
	for _, c := range cfg.Cameras {
		jcfg := cfg.JPEGFor(c)
		var u *cameraUnit
		if old != nil {
			if o, ok := old.byName[c.Name]; ok && o.cfg.Equal(c) && o.jcfg == jcfg {
				u = o
			}
		}
		if u == nil {
			u = d.newUnit(c, jcfg)
		}
		s.list = append(s.list, u)
		s.byName[c.Name] = u
	}
	return s
}

func (d *Daemon) newUnit(c config.Camera, jcfg config.JPEG) *cameraUnit {
	u := &cameraUnit{cfg: c, jcfg: jcfg, url: c.RedactedURL()}
	if c.Disabled {
		return u
	}
	log := d.log.With("camera", c.Name)
	u.st = stream.New(c.Name, stream.Options{MaxReaders: c.MaxViewers})
	u.cam = capture.New(capture.Config{
		Name:           c.Name,
		URL:            c.URL,
		Transport:      capture.Transport(c.Transport),
		ConnectTimeout: c.ConnectTimeout.D(),
		ReadTimeout:    c.ReadTimeout.D(),
		StaleAfter:     c.StaleAfter.D(),
	}, u.st, log)
	u.jpeg = jpeg.NewHub(u.st, jpegSettings(jcfg), log)
	return u
}

// auth returns the current authenticator; a reload may replace it.
func (d *Daemon) auth() *authenticator { return d.authp.Load() }

// viewerCounts are a camera's viewers by transport.
type viewerCounts struct {
	WebRTC    int `json:"webrtc"`
	MJPEG     int `json:"mjpeg"`
	WebSocket int `json:"websocket"`
}

func (v viewerCounts) total() int { return v.WebRTC + v.MJPEG + v.WebSocket }

func (u *cameraUnit) viewers() viewerCounts {
	if u.cam == nil {
		return viewerCounts{}
	}
	return viewerCounts{WebRTC: u.st.Viewers(), MJPEG: int(u.mjpegViewers.Load()), WebSocket: int(u.wsViewers.Load())}
}

// cameras returns the current camera set.
func (d *Daemon) cameras() *cameraSet { return d.set.Load() }

// Ready is closed once the HTTP server listens and the cameras are started.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// HTTPAddr is the address the HTTP server listens on; valid after Ready.
func (d *Daemon) HTTPAddr() string { return d.httpAddr }

// Run serves until ctx ends, then stops everything and returns. It returns an
// error only when it cannot start (a port in use).
func (d *Daemon) Run(ctx context.Context) error {
	tlsCfg, err := loadTLS(d.cfg.HTTP.TLS)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", d.cfg.HTTP.Listen, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	d.httpAddr = ln.Addr().String()

	rtc, err := whep.NewServer(whep.Config{
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
	for _, u := range d.cameras().list {
		d.startUnit(ctx, u)
	}

	srv := &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	goRun(func() { serveErr <- srv.Serve(ln) })

	d.log.Info("edgecam started", "version", d.opts.Version, "http", d.httpAddr, "tls", tlsCfg != nil,
		"auth", d.auth().mode,
		"webrtc_udp", addrList(rtc.LocalAddrs()), "cameras", len(d.cameras().list))
	close(d.ready)
	notifyReady(d.statusLine())
	goRun(func() { d.superviseHealth(ctx) })
	goRun(func() { d.watchEvents(ctx) })
	if d.opts.AdaptProcs {
		if v := os.Getenv("GOMAXPROCS"); v != "" {
			d.log.Info("go scheduler: GOMAXPROCS set in the environment, not adapted to the load", "gomaxprocs", v)
		} else {
			pc := &procs.Controller{Log: d.log}
			goRun(func() { _ = pc.Run(ctx) })
		}
	}
	if addr := d.cfg.Debug.PprofListen; addr != "" {
		pln, err := net.Listen("tcp", addr)
		if err != nil {
			d.log.Error("pprof: cannot listen; continuing without it", "addr", addr, "error", err)
		} else {
			psrv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
			goRun(func() { _ = psrv.Serve(pln) })
			goRun(func() { <-ctx.Done(); _ = psrv.Close() })
			d.log.Info("pprof listening", "addr", pln.Addr().String())
		}
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-d.opts.Reload:
			d.reload(ctx)
		case err := <-serveErr:
			if !errors.Is(err, http.ErrServerClosed) {
				runErr = fmt.Errorf("http: %w", err)
			}
			break loop
		}
	}
	notifyStopping()
	d.log.Info("edgecam stopping")
	close(d.quit) // long-lived responses (events) end now
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), shutdownGrace)
	_ = srv.Shutdown(shutdownCtx)
	done()
	_ = srv.Close()
	for _, u := range d.cameras().list {
		d.stopUnit(u)
	}
	wg.Wait()
	d.log.Info("edgecam stopped")
	return runErr
}

// startUnit starts a camera's goroutine: the capture (always or on demand)
// and its JPEG hub. stopUnit ends it and waits.
func (d *Daemon) startUnit(ctx context.Context, u *cameraUnit) {
	if u.cam == nil || u.done != nil {
		return
	}
	ctx, u.stop = context.WithCancel(ctx)
	u.done = make(chan struct{})
	go func() {
		defer close(u.done)
		hubDone := make(chan struct{})
		go func() {
			defer close(hubDone)
			_ = u.jpeg.Run(ctx)
		}()
		d.runCamera(ctx, u)
		<-hubDone
	}()
}

func (d *Daemon) stopUnit(u *cameraUnit) {
	if u.cam == nil || u.done == nil {
		return
	}
	// Closing the stream first ends every viewer cleanly (WebRTC sessions
	// close, JPEG viewers get an error), then the capture stops.
	u.st.Close()
	u.stop()
	<-u.done
}

// reload applies a new configuration: unchanged cameras keep running and
// keep their viewers; removed ones stop; added ones start; changed ones
// restart. An invalid configuration changes nothing.
func (d *Daemon) reload(ctx context.Context) {
	if d.opts.Load == nil {
		d.log.Warn("reload requested, but this daemon has no configuration file to read")
		return
	}
	notifyReloading()
	defer notifyReady(d.statusLine())
	cfg, err := d.opts.Load()
	if err != nil {
		d.log.Error("reload: configuration rejected, still running the previous one", "error", err)
		return
	}
	if cfg.HTTP != d.cfg.HTTP || !equalWebRTC(cfg.WebRTC, d.cfg.WebRTC) {
		d.log.Warn("reload: http and webrtc settings apply only after a restart (systemctl restart edgecam)")
		cfg.HTTP = d.cfg.HTTP // judged against the address that keeps listening
	}
	if err := cfg.CheckAccess(); err != nil {
		d.log.Error("reload: configuration rejected, still running the previous one", "error", err)
		return
	}
	if old := d.auth(); !reflect.DeepEqual(cfg.Auth, old.conf) {
		a := newAuthenticator(cfg)
		a.adoptSessions(old)
		d.authp.Store(a)
		d.log.Info("reload: users and tokens updated", "auth", a.mode, "users", len(a.users), "tokens", len(a.tokens))
	}
	if d.opts.LogLevel != nil {
		d.opts.LogLevel.Set(parseLevel(cfg.Log.Level))
	}

	old := d.cameras()
	next := d.buildSet(cfg, old)
	var added, removed, changed, kept int
	var restarts uint64
	for _, u := range old.list {
		if n, ok := next.byName[u.cfg.Name]; ok && n == u {
			kept++
			continue
		}
		if _, ok := next.byName[u.cfg.Name]; ok {
			changed++
		} else {
			removed++
		}
		d.stopUnit(u)
		if u.cam != nil {
			restarts += u.jpeg.Stats().Restarts
		}
	}
	added = len(next.list) - kept - changed
	d.retired.Lock()
	d.set.Store(next)
	d.retired.ffmpegRestarts += restarts
	d.retired.Unlock()
	for _, u := range next.list {
		d.startUnit(ctx, u)
	}
	d.log.Info("configuration reloaded", "cameras", len(next.list),
		"unchanged", kept, "added", added, "removed", removed, "restarted", changed)
}

// pprofMux serves Go's profiler on its own listener, never on the public
// port: profiles reveal memory contents.
func pprofMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}

// loadTLS reads the certificate and key when TLS is configured, so a wrong
// path fails at start with a clear message rather than on the first client.
func loadTLS(t config.TLS) (*tls.Config, error) {
	if t.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("http.tls: load certificate %s and key %s: %w", t.Cert, t.Key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func equalWebRTC(a, b config.WebRTC) bool {
	return a.UDPPort == b.UDPPort && a.MaxViewers == b.MaxViewers &&
		fmt.Sprint(a.Hosts) == fmt.Sprint(b.Hosts) && fmt.Sprint(a.Interfaces) == fmt.Sprint(b.Interfaces)
}

// runCamera pulls a camera: always, or only while it has viewers.
func (d *Daemon) runCamera(ctx context.Context, u *cameraUnit) {
	u.cam.SetUnwatched(u.st.Readers() == 0)
	if !u.cfg.OnDemand {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = u.cam.Run(ctx)
		}()
		for {
			select {
			case <-ctx.Done():
				<-done
				return
			case <-u.st.ReadersChanged():
				u.cam.SetUnwatched(u.st.Readers() == 0)
			}
		}
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
		u.cam.SetUnwatched(n == 0)
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

func addrList(addrs []net.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
