package daemon

import (
	"bytes"
	"path/filepath"
	"reflect"

	"github.com/edgecam/edgecam/daemon/auth"
	"github.com/edgecam/edgecam/daemon/config"
)

// authConfig is the authenticator's configuration from the file's.
func (d *Daemon) authConfig(cfg *config.Config) auth.Config {
	return auth.Config{
		Mode:          cfg.Auth.EffectiveMode(cfg.HTTP.Listen),
		Users:         cfg.Auth.Users,
		Tokens:        cfg.Auth.Tokens,
		SessionTTL:    cfg.Auth.SessionTTL.D(),
		SecureCookies: cfg.HTTP.TLS.Cert != "",
		Key:           d.loginKey,
		Log:           d.log,
	}
}

// readLoginKey returns the key page logins are signed with: the state
// directory's, made there when missing, or without a state directory one
// of this run's own.
func (d *Daemon) readLoginKey() ([]byte, error) {
	if d.opts.StateDir == "" {
		// Worth a warning only where there are logins to lose.
		if d.cfg.Auth.EffectiveMode(d.cfg.HTTP.Listen) == config.AuthUsers {
			d.log.Warn("no state directory (--state-dir, or STATE_DIRECTORY from systemd): page logins end when edgecam stops")
		}
		return auth.NewKey(), nil
	}
	path := filepath.Join(d.opts.StateDir, auth.KeyFile)
	key, created, err := auth.LoadKey(path)
	if created {
		d.log.Info("made a new key for page logins", "file", path)
	}
	return key, err
}

// reloadAuth replaces the authenticator when users, tokens or the login key
// changed. Page logins carry their user's password hash, signed, so they
// go on for users whose password stayed the same, and end for the others
// and for everyone when the key changed.
func (d *Daemon) reloadAuth(cfg *config.Config) {
	key := d.loginKey
	if d.opts.StateDir != "" {
		k, err := d.readLoginKey()
		if err != nil {
			d.log.Error("reload: login key unreadable, keeping the one in use", "error", err)
		} else {
			key = k
		}
	}
	keyChanged := !bytes.Equal(key, d.loginKey)
	if !keyChanged && reflect.DeepEqual(cfg.Auth, d.authConf) {
		return
	}
	d.loginKey = key
	a := auth.New(d.authConfig(cfg))
	d.auth.Store(a)
	d.authConf = cfg.Auth
	users, tokens := a.Accounts()
	d.log.Info("reload: logins updated", "auth", a.Mode(), "users", users, "tokens", tokens, "new_key", keyChanged)
}
