// Package daemon wires edgecam together and owns its lifecycle: it reads the
// configuration, runs the cameras (package cameras), the WebRTC server
// (stream/whep) and the HTTP API (package api), reloads the camera list on
// request, and talks to systemd.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/auth"
	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/events"
	"github.com/edgecam/edgecam/daemon/metrics"
	"github.com/edgecam/edgecam/daemon/ratelimit"
	"github.com/edgecam/edgecam/stream/frames"
	"github.com/edgecam/edgecam/stream/whep"
)

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
	// Version is reported in the log and the metrics.
	Version string
	// OnDemandLinger overrides how long an on-demand camera stays pulled
	// after its last viewer leaves (cameras.DefaultOnDemandLinger).
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
	// RequestReadTimeout overrides how long reading a request may take
	// (requestReadTimeout), for tests.
	RequestReadTimeout time.Duration
	// StateDir is where the daemon keeps what must outlive it: the key
	// page logins are signed with. Empty means nowhere: logins end when
	// the daemon does.
	StateDir string
}

// Daemon is a running edgecam. Create it with New, then call Run.
type Daemon struct {
	cfg  *config.Config // as started: http and webrtc settings never change
	opts Options
	log  *slog.Logger

	set      atomic.Pointer[cameras.Set]
	auth     atomic.Pointer[auth.Authenticator]
	authConf config.Auth // what auth was made from, to notice changes on reload
	loginKey []byte      // signs page logins (logins.go)
	rtc      *whep.Server
	bus      *events.Bus
	feed     *api.Feed
	sessions *ratelimit.Limiter
	metrics  *metrics.Metrics
	quit     chan struct{} // closed when the daemon starts to stop

	// runs are the running cameras; only Run's goroutine touches it.
	runs map[*cameras.Camera]cameraRun
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
	instance string // names this run of the daemon, for the page
	decoders *frames.Budget
	// reloaded is the status line's note of the last reload (a string).
	reloaded atomic.Value
}

// cameraRun is a camera's goroutine: cancel stops it, done closes when it has.
type cameraRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks cfg and prepares a daemon; nothing listens until Run.
func New(cfg *config.Config, opts Options) (d *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.CheckAccess(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d = &Daemon{
		cfg:   cfg,
		opts:  opts,
		log:   opts.Logger,
		ready: make(chan struct{}),
		// A page that sees it change knows its sessions went with the
		// previous run.
		instance: newInstance(),
		decoders: frames.NewBudget(cfg.JPEG.MaxDecoders),
		bus:      events.NewBus(),
		quit:     make(chan struct{}),
		runs:     make(map[*cameras.Camera]cameraRun),
		// A runaway script from one address cannot exhaust the box.
		sessions: ratelimit.New(cfg.HTTP.SessionsPerMinute, time.Minute),
	}
	d.feed = api.NewFeed(d.bus, d.cameras, d.instance)
	d.metrics = metrics.New(opts.Version, d.metricsSnapshot)
	if d.loginKey, err = d.readLoginKey(); err != nil {
		return nil, err
	}
	d.auth.Store(auth.New(d.authConfig(cfg)))
	d.authConf = cfg.Auth
	d.set.Store(d.buildSet(cfg, nil))
	return d, nil
}

// cameras returns the current camera set.
func (d *Daemon) cameras() *cameras.Set { return d.set.Load() }

// Cameras returns the current camera set; a reload replaces it.
func (d *Daemon) Cameras() *cameras.Set { return d.cameras() }

// WebRTCAddrs returns the UDP addresses WebRTC media is received on; valid
// after Ready.
func (d *Daemon) WebRTCAddrs() []net.Addr { return d.rtc.LocalAddrs() }

// Ready is closed once the HTTP server listens and the cameras are started.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// HTTPAddr is the address the HTTP server listens on; valid after Ready.
func (d *Daemon) HTTPAddr() string { return d.httpAddr }

// WebRTCSessions is the number of WebRTC sessions open now; 0 before Run.
func (d *Daemon) WebRTCSessions() int {
	select {
	case <-d.ready:
		return d.rtc.Sessions()
	default:
		return 0
	}
}

// metricsSnapshot is what a scrape of /metrics reads.
func (d *Daemon) metricsSnapshot() metrics.Snapshot {
	d.retired.Lock()
	set, retired := d.cameras(), d.retired.ffmpegRestarts
	d.retired.Unlock()
	return metrics.Snapshot{
		Cameras:               set.Snapshots(),
		WebRTCSessions:        d.WebRTCSessions(),
		RetiredFFmpegRestarts: retired,
	}
}

// Run serves until ctx ends, then stops everything and returns. It returns an
// error only when it cannot start (a port in use).
func (d *Daemon) Run(ctx context.Context) error {
	ln, err := d.listen()
	if err != nil {
		return err
	}
	d.rtc, err = whep.NewServer(whep.Config{
		UDPPort:     d.cfg.WebRTC.UDPPort,
		Interfaces:  d.cfg.WebRTC.Interfaces,
		Hosts:       d.cfg.WebRTC.Hosts,
		MaxSessions: d.cfg.WebRTC.MaxViewers,
	}, d.log)
	if err != nil {
		ln.Close()
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = d.rtc.Run(ctx) })
	wg.Go(func() { _ = d.feed.Run(ctx) })
	for _, c := range d.cameras().List() {
		d.startCamera(ctx, c)
	}
	srv := d.httpServer(d.api().Handler())
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })
	d.announce()
	d.startHelpers(ctx, &wg)

	runErr := d.serve(ctx, serveErr)
	notifyStopping()
	d.log.Info("edgecam stopping")
	close(d.quit) // long-lived responses (events) end now
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), shutdownGrace)
	_ = srv.Shutdown(shutdownCtx)
	done()
	_ = srv.Close()
	for _, c := range d.cameras().List() {
		d.stopCamera(c)
	}
	wg.Wait()
	d.log.Info("edgecam stopped")
	return runErr
}

// serve handles reloads until ctx ends or the HTTP server fails.
func (d *Daemon) serve(ctx context.Context, serveErr <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.opts.Reload:
			d.reload(ctx)
		case err := <-serveErr:
			if !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		}
	}
}

// announce logs the start and tells systemd the daemon is ready.
func (d *Daemon) announce() {
	users, tokens := d.auth.Load().Accounts()
	d.log.Info("edgecam started", "version", d.opts.Version, "http", d.httpAddr, "tls", d.cfg.HTTP.TLS.Cert != "",
		"auth", d.auth.Load().Mode(), "users", users, "tokens", tokens,
		"webrtc_udp", addrList(d.rtc.LocalAddrs()), "cameras", len(d.cameras().List()))
	close(d.ready)
	notifyReady(d.statusLine())
}

// startCamera starts a camera's goroutine; stopCamera ends it and waits.
func (d *Daemon) startCamera(ctx context.Context, c *cameras.Camera) {
	if _, running := d.runs[c]; running || c.Disabled() {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	d.runs[c] = cameraRun{cancel: cancel, done: done}
}

func (d *Daemon) stopCamera(c *cameras.Camera) {
	r, running := d.runs[c]
	if !running {
		return
	}
	r.cancel()
	<-r.done
	delete(d.runs, c)
}

func addrList(addrs []net.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
