package auth

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgecam/edgecam/daemon/config"
)

// The hashes need not be real: page logins only fingerprint them.
var (
	opHash = "$2a$04$" + strings.Repeat("o", 53)
	vwHash = "$2a$04$" + strings.Repeat("v", 53)
)

func testAuth(key []byte, users ...config.User) *Authenticator {
	if len(users) == 0 {
		users = []config.User{{Name: "operator", PasswordHash: opHash}, {Name: "viewer", PasswordHash: vwHash}}
	}
	return New(Config{Mode: config.AuthUsers, Users: users, Key: key, SessionTTL: 30 * 24 * time.Hour})
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, keySize) }

// withCookie is a page request carrying c.
func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/api/cameras", nil)
	r.AddCookie(c)
	return r
}

func TestPageLoginLastsItsLifetimeAndSlides(t *testing.T) {
	a := testAuth(testKey(1))
	now := time.Now()
	c := a.newLogin("operator")
	if user, why, renew := a.fromCookie(withCookie(c)); user != "operator" || why != "" || renew != nil {
		t.Fatalf("fresh login: user %q, reason %q, renewed %v; want operator, none, not renewed", user, why, renew != nil)
	}
	if c.MaxAge < int(a.ttl/time.Second) {
		t.Errorf("cookie Max-Age %d s, want at least the lifetime %v: a browser restart must keep it", c.MaxAge, a.ttl)
	}

	// Used two hours after its last renewal: renewed for a whole lifetime.
	old := a.cookie(login{user: "operator", issued: now.Add(-48 * time.Hour), expires: now.Add(a.ttl - 2*time.Hour),
		fingerprint: a.fingerprints["operator"]}, now)
	user, _, renew := a.fromCookie(withCookie(old))
	if user != "operator" || renew == nil {
		t.Fatalf("login last renewed 2 h ago: user %q, renewed %v; want operator, renewed", user, renew != nil)
	}
	l, why := a.verify(renew.Value, now)
	if why != "" || l.expires.Before(now.Add(a.ttl-time.Minute)) || !l.issued.Equal(now.Add(-48*time.Hour).Truncate(time.Second)) {
		t.Errorf("renewed login: reason %q, expires %v, issued %v; want a full lifetime from now, issued unchanged", why, l.expires, l.issued)
	}

	// Past its expiry: refused, and said so.
	expired := a.cookie(login{user: "operator", issued: now.Add(-60 * 24 * time.Hour), expires: now.Add(-time.Second),
		fingerprint: a.fingerprints["operator"]}, now)
	if user, why, _ := a.fromCookie(withCookie(expired)); user != "" || why != ReasonExpired {
		t.Errorf("expired login: user %q, reason %q; want none, %q", user, why, ReasonExpired)
	}
	if _, why := a.verify(c.Value, now.Add(a.ttl+time.Second)); why != ReasonExpired {
		t.Errorf("login used a lifetime later: reason %q, want %q", why, ReasonExpired)
	}
}

func TestTamperedPageLoginsAreRefused(t *testing.T) {
	a := testAuth(testKey(1))
	now := time.Now()
	op := a.newLogin("operator").Value
	vw := a.newLogin("viewer").Value
	fields := func(v string) []string { return strings.Split(v, ".") }
	cases := map[string]string{
		"signed with another key": testAuth(testKey(2)).newLogin("operator").Value,
		"another user's signature": func() string {
			f := fields(op)
			f[5] = fields(vw)[5]
			return strings.Join(f, ".")
		}(),
		"user renamed": func() string {
			f := fields(vw)
			f[1] = fields(op)[1]
			return strings.Join(f, ".")
		}(),
		"expiry pushed on": func() string {
			f := fields(op)
			f[3] = "99999999999"
			return strings.Join(f, ".")
		}(),
		"signature missing": strings.Join(fields(op)[:5], "."),
		"empty":             "",
		"not a login":       "hello",
	}
	// Every single changed byte.
	for i := range op {
		b := []byte(op)
		b[i] ^= 0x01
		cases[fmt.Sprintf("byte %d changed", i)] = string(b)
	}
	for name, v := range cases {
		if l, why := a.verify(v, now); why != ReasonKeyChanged {
			t.Errorf("%s: user %q, reason %q; want refused as %q", name, l.user, why, ReasonKeyChanged)
		}
	}
	if _, why := a.verify(op, now); why != "" {
		t.Fatalf("the untouched login is refused: %q", why)
	}
}

func TestPasswordChangeEndsThatUsersLogins(t *testing.T) {
	key := testKey(1)
	before := testAuth(key)
	op, vw := before.newLogin("operator").Value, before.newLogin("viewer").Value
	now := time.Now()
	cases := []struct {
		name   string
		users  []config.User
		wantOp Reason
	}{
		{"same users (a reload, a restart)", []config.User{{Name: "operator", PasswordHash: opHash}, {Name: "viewer", PasswordHash: vwHash}}, ""},
		{"operator's password changed", []config.User{{Name: "operator", PasswordHash: opHash[:59] + "x"}, {Name: "viewer", PasswordHash: vwHash}}, ReasonPasswordChanged},
		{"operator removed", []config.User{{Name: "viewer", PasswordHash: vwHash}}, ReasonUserRemoved},
	}
	for _, c := range cases {
		after := testAuth(key, c.users...)
		if _, why := after.verify(op, now); why != c.wantOp {
			t.Errorf("%s: operator's login: reason %q, want %q", c.name, why, c.wantOp)
		}
		if _, why := after.verify(vw, now); why != "" {
			t.Errorf("%s: viewer's login refused: %q", c.name, why)
		}
	}
}

func TestLoginKeyFileIsMadeOnceAndPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFile)
	key, created, err := LoadKey(path)
	if err != nil || !created || len(key) != keySize {
		t.Fatalf("first load: %d bytes, created %v, %v; want a new %d-byte key", len(key), created, err, keySize)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	again, created, err := LoadKey(path)
	if err != nil || created || !bytes.Equal(again, key) {
		t.Fatalf("second load: created %v, same key %v, %v; want the same key, not made again", created, bytes.Equal(again, key), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// `edgecam run --state-dir DIR` with a DIR not made yet makes it, private.
func TestLoginKeyMakesItsStateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "edgecam")
	key, created, err := LoadKey(filepath.Join(dir, KeyFile))
	if err != nil || !created || len(key) != keySize {
		t.Fatalf("a key in a directory not made yet: %d bytes, created %v, %v", len(key), created, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %04o, want 0700", fi.Mode().Perm())
	}
}

func TestUnsafeLoginKeyFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, want string
		body       []byte
		mode       os.FileMode
	}{
		{"readable by others", "chmod 600", testKey(1), 0o644},
		{"readable by the group", "chmod 600", testKey(1), 0o640},
		{"too short", "fewer than 32", []byte("short"), 0o600},
		{"empty", "fewer than 32", nil, 0o600},
	}
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.WriteFile(path, c.body, c.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, c.mode); err != nil { // past the umask
			t.Fatal(err)
		}
		if _, _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v; want an error naming the file and saying %q", c.name, err, c.want)
		}
	}
}
