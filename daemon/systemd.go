package daemon

import (
	"context"
	"fmt"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/edgecam/edgecam/capture"
)

// Each notify helper is a no-op outside systemd (NOTIFY_SOCKET unset).

func notifyReady(status string) {
	_, _ = sd.SdNotify(false, sd.SdNotifyReady+"\nSTATUS="+status)
}

func notifyReloading() {
	_, _ = sd.SdNotify(false, sd.SdNotifyReloading+"\n"+sd.SdNotifyMonotonicUsec()+"STATUS=reloading")
}

func notifyStopping() {
	_, _ = sd.SdNotify(false, sd.SdNotifyStopping+"\nSTATUS=stopping")
}

func notifyStatus(status string) {
	_, _ = sd.SdNotify(false, "STATUS="+status)
}

// superviseHealth refreshes systemd's STATUS= line and, when the unit has
// WatchdogSec=, pings the watchdog. The ping comes from this loop, which
// takes every camera's status lock, rather than from a blind ticker: a
// deadlocked daemon stops pinging and systemd restarts it.
// The line is looked at every second, so that it follows a restart or a
// camera going down at once, and sent only when it changed.
func (d *Daemon) superviseHealth(ctx context.Context) {
	ping := 5 * time.Second
	wd, _ := sd.SdWatchdogEnabled(false)
	if wd > 0 && wd/2 < ping {
		ping = wd / 2
	}
	t := time.NewTicker(min(time.Second, ping))
	defer t.Stop()
	last, pinged := "", time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		line := d.statusLine()
		if line != last {
			notifyStatus(line)
			last = line
		}
		if wd > 0 && time.Since(pinged) >= ping-ping/10 {
			_, _ = sd.SdNotify(false, sd.SdNotifyWatchdog)
			pinged = time.Now()
		}
	}
}

// statusLine is the one-line summary shown by systemctl status.
func (d *Daemon) statusLine() string {
	streaming, total, viewers := 0, 0, 0
	for _, c := range d.cameras().List() {
		if c.Disabled() {
			continue
		}
		total++
		if c.Status().State == capture.StateStreaming {
			streaming++
		}
		viewers += c.Viewers().Total()
	}
	line := fmt.Sprintf("%d/%d cameras streaming, %d viewers", streaming, total, viewers)
	if note, ok := d.reloaded.Load().(string); ok {
		line += "; " + note
	}
	return line
}
