package daemon

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/edgecam/edgecam/daemon/api"
	"github.com/edgecam/edgecam/daemon/config"
	"github.com/edgecam/edgecam/daemon/procs"
	"github.com/edgecam/edgecam/daemon/ratelimit"
)

// listen opens the HTTP listener, with TLS when it is configured.
func (d *Daemon) listen() (net.Listener, error) {
	tlsCfg, err := loadTLS(d.cfg.HTTP.TLS)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w", d.cfg.HTTP.Listen, err)
	}
	// Counted before TLS: a handshake that never ends holds a place too.
	ln = ratelimit.LimitConns(ln, d.cfg.HTTP.ConnectionsPerAddress)
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	d.httpAddr = ln.Addr().String()
	return ln, nil
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

// startHelpers starts what runs beside the cameras until ctx ends: the
// systemd status and watchdog, the GOMAXPROCS controller and the profiler.
func (d *Daemon) startHelpers(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { d.superviseHealth(ctx) })
	if d.opts.AdaptProcs {
		if v := os.Getenv("GOMAXPROCS"); v != "" {
			d.log.Info("go scheduler: GOMAXPROCS set in the environment, not adapted to the load", "gomaxprocs", v)
		} else {
			pc := &procs.Controller{Log: d.log}
			wg.Go(func() { _ = pc.Run(ctx) })
		}
	}
	if addr := d.cfg.Debug.PprofListen; addr != "" {
		pln, err := net.Listen("tcp", addr)
		if err != nil {
			d.log.Error("pprof: cannot listen; continuing without it", "addr", addr, "error", err)
			return
		}
		psrv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
		wg.Go(func() { _ = psrv.Serve(pln) })
		wg.Go(func() { <-ctx.Done(); _ = psrv.Close() })
		d.log.Info("pprof listening", "addr", pln.Addr().String())
	}
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

// requestReadTimeout bounds reading a whole request, body included: a
// client that announces a body and never sends it is dropped instead of
// holding its connection and goroutine for good. The long-lived answers
// (events, MJPEG, WebSockets) lift it once their request is read.
const requestReadTimeout = 15 * time.Second

// httpServer is the daemon's HTTP server over h, with a deadline on every
// phase of a request.
func (d *Daemon) httpServer(h http.Handler) *http.Server {
	read := requestReadTimeout
	if d.opts.RequestReadTimeout > 0 {
		read = d.opts.RequestReadTimeout
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       read,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
		ConnContext:       api.WithConn,
	}
}

// api is the HTTP API over the daemon's parts.
func (d *Daemon) api() *api.Server {
	return api.New(api.Config{
		Cameras:  d.cameras,
		WebRTC:   d.rtc,
		Auth:     d.auth.Load,
		Sessions: d.sessions,
		Events:   d.bus,
		Metrics:  d.metrics,
		Quit:     d.quit,
		Log:      d.log,
		Instance: d.instance,
	})
}

// newInstance returns a random name for a run of the daemon.
func newInstance() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
