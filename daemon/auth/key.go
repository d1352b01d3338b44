package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the name of the file, in the daemon's state directory, that
// holds the key page logins are signed with.
const KeyFile = "session.key"

// keySize is the length of a new key, and the least an existing key file
// must hold: HMAC-SHA256 gains nothing from a longer one.
const keySize = 32

// maxKeyFile bounds what is read of a key file, so a wrong path (a large
// file) cannot fill the memory.
const maxKeyFile = 4096

// NewKey returns a random key for signing page logins, for a daemon that
// has no state directory: its logins end with it.
func NewKey() []byte {
	k := make([]byte, keySize)
	_, _ = rand.Read(k) // never fails on Linux: it panics instead
	return k
}

// LoadKey reads the key page logins are signed with from path, and makes
// the file, mode 0600, when it does not exist (and its directory, mode
// 0700); created says it did. A
// file that others may read, or that holds fewer than 32 bytes, is an
// error: a key anyone on the box can read lets them sign logins.
func LoadKey(path string) (key []byte, created bool, err error) {
	key, err = readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	switch err := createKey(path); {
	case errors.Is(err, fs.ErrExist): // made at the same moment by the package's postinst
	case err != nil:
		return nil, false, err
	default:
		created = true
	}
	key, err = readKey(path)
	return key, created, err
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("login key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("login key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("login key %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("login key %s: mode %04o lets others read it: chmod 600 %s", path, perm, path)
	}
	key, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("login key: %w", err)
	}
	if len(key) < keySize {
		return nil, fmt.Errorf("login key %s: holds %d bytes, fewer than %d: delete it and edgecam makes a new one", path, len(key), keySize)
	}
	return key, nil
}

// createKey writes a new key to a temporary file and links it into place,
// so that a crash never leaves a short key behind and an existing key is
// never replaced.
func createKey(path string) error {
	// A state directory named on the command line may not exist yet
	// (systemd makes the unit's own); made here, only its owner reads it.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("login key: state directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*") // mode 0600
	if err != nil {
		return fmt.Errorf("login key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(NewKey())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("login key: write %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("login key: %w", err)
	}
	return nil
}
