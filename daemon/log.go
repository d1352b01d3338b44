package daemon

import (
	"io"
	"log/slog"
	"os"

	"github.com/edgecam/edgecam/daemon/config"
)

// NewLogger returns the daemon's logger: one event per line, key=value, at
// the level of lv (which a reload may change). Under systemd, journald stamps
// each line itself, so the time is left out.
func NewLogger(w io.Writer, lv *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lv}
	if os.Getenv("JOURNAL_STREAM") != "" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// NewLevel returns a level variable set from a config log.level value.
func NewLevel(level config.LogLevel) *slog.LevelVar {
	lv := new(slog.LevelVar)
	lv.Set(parseLevel(level))
	return lv
}

// parseLevel maps a config log.level value onto slog's levels.
func parseLevel(level config.LogLevel) slog.Level {
	switch level {
	case config.LogDebug:
		return slog.LevelDebug
	case config.LogWarn:
		return slog.LevelWarn
	case config.LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}
