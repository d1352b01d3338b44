package daemon

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/edgecam/edgecam/daemon/cameras"
	"github.com/edgecam/edgecam/daemon/config"
)

// buildSet makes the camera set for cfg, reusing the cameras of old whose
// settings did not change.
func (d *Daemon) buildSet(cfg *config.Config, old *cameras.Set) *cameras.Set {
	list := make([]*cameras.Camera, 0, len(cfg.Cameras))
	titles := map[string]string{}
	for _, c := range cfg.Cameras {
		if c.Title != "" {
			titles[c.Name] = c.Title
		}
		j := cfg.JPEGFor(c)
		j.MaxDecoders = 0 // the box's bound (d.decoders), not the camera's
		if old != nil {
			if o, ok := old.Get(c.Name); ok && o.Same(c, j) {
				list = append(list, o)
				continue
			}
		}
		list = append(list, cameras.New(c, j, cameras.Options{
			Log:            d.log,
			OnDemandLinger: d.opts.OnDemandLinger,
			Changed:        d.feed.Changed,
			Decoders:       d.decoders,
		}))
	}
	return cameras.NewSet(list, titles, cfg.Groups)
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
	note := "reloaded"
	defer func() {
		d.reloaded.Store(note + " at " + time.Now().Format("15:04:05"))
		notifyReady(d.statusLine())
	}()
	cfg, err := d.opts.Load()
	if err != nil {
		d.log.Error("reload: configuration rejected, still running the previous one", "error", err)
		note = "reload rejected (" + firstProblem(err) + ")"
		return
	}
	if cfg.HTTP != d.cfg.HTTP || !sameWebRTC(cfg.WebRTC, d.cfg.WebRTC) {
		d.log.Warn("reload: http and webrtc settings apply only after a restart (systemctl restart edgecam)")
		cfg.HTTP = d.cfg.HTTP // judged against the address that keeps listening
	}
	if err := cfg.CheckAccess(); err != nil {
		d.log.Error("reload: configuration rejected, still running the previous one", "error", err)
		note = "reload rejected (" + firstProblem(err) + ")"
		return
	}
	d.decoders.SetMax(cfg.JPEG.MaxDecoders)
	d.reloadAuth(cfg)
	if d.opts.LogLevel != nil {
		d.opts.LogLevel.Set(parseLevel(cfg.Log.Level))
	}
	d.reloadCameras(ctx, cfg)
}

func sameWebRTC(a, b config.WebRTC) bool {
	return a.UDPPort == b.UDPPort && a.MaxViewers == b.MaxViewers &&
		slices.Equal(a.Hosts, b.Hosts) && slices.Equal(a.Interfaces, b.Interfaces)
}

// reloadCameras swaps in the camera set of cfg.
func (d *Daemon) reloadCameras(ctx context.Context, cfg *config.Config) {
	old := d.cameras()
	next := d.buildSet(cfg, old)
	var removed, changed, kept int
	var restarts uint64
	for _, c := range old.List() {
		n, stays := next.Get(c.Name())
		switch {
		case stays && n == c:
			kept++
			continue
		case stays:
			changed++
		default:
			removed++
		}
		d.stopCamera(c)
		for _, n := range []cameras.StreamName{cameras.Main, cameras.Sub} {
			if f, ok := c.Feed(n); ok {
				restarts += f.JPEG().Stats().Restarts
			}
		}
	}
	d.retired.Lock()
	d.set.Store(next)
	d.retired.ffmpegRestarts += restarts
	d.retired.Unlock()
	for _, c := range next.List() {
		d.startCamera(ctx, c)
	}
	d.feed.Changed()
	d.log.Info("configuration reloaded", "cameras", len(next.List()),
		"unchanged", kept, "added", len(next.List())-kept-changed, "removed", removed, "restarted", changed)
}

// firstProblem is the start of a rejected configuration's first problem,
// short enough for systemctl status's line.
func firstProblem(err error) string {
	msg, more, _ := strings.Cut(err.Error(), "\n")
	if len(msg) > 100 {
		msg = strings.ToValidUTF8(msg[:100], "") + "…"
	}
	if more != "" {
		msg += ", …"
	}
	return msg
}
