package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
)

// ErrRemoveCurrentKey is returned by RemoveKey for the key the repository
// was opened with (restic's text).
var ErrRemoveCurrentKey = errors.New("refusing to remove key currently used to access repository")

// NewKey describes a key file written by AddKey or ChangePassword.
type NewKey struct {
	ID       model.ID
	Username string
	Hostname string
	// Created is the time recorded in the key file, as read from the
	// clock (it keeps Go's monotonic reading).
	Created time.Time
}

// PrefixError is returned by FindKey when a prefix matches no key file or
// more than one. Its text is restic's; it wraps backend.ErrNotExist or
// ErrAmbiguousID.
type PrefixError struct {
	Prefix    string
	Ambiguous bool
}

func (e *PrefixError) Error() string { return prefixErrorText(e.Prefix, e.Ambiguous) }

// prefixErrorText is restic's text for an ID prefix that matches no file
// or several.
func prefixErrorText(prefix string, ambiguous bool) string {
	if ambiguous {
		return fmt.Sprintf("multiple IDs with prefix %q found", prefix)
	}
	return fmt.Sprintf("no matching ID found for prefix %q", prefix)
}

func (e *PrefixError) Unwrap() error {
	if e.Ambiguous {
		return ErrAmbiguousID
	}
	return backend.ErrNotExist
}

// SetKDFParams sets the scrypt parameters for key files the repository
// writes from now on. Without it the first new key calibrates them for
// this machine, as restic does.
func (r *Repository) SetKDFParams(p crypto.Params) {
	r.kdf = &p
}

// kdfParams returns the scrypt parameters for a new key file, calibrating
// them on first use. Calibration takes about a second.
func (r *Repository) kdfParams() (crypto.Params, error) {
	if r.kdf != nil {
		return *r.kdf, nil
	}
	p, err := crypto.Calibrate(crypto.DefaultCalibrateTimeout, crypto.DefaultCalibrateMemory)
	if err != nil {
		return crypto.Params{}, fmt.Errorf("calibrate scrypt: %w", err)
	}
	r.kdf = &p
	return p, nil
}

// saveKey seals master under password in a new key file and stores it
// raw under the SHA-256 of its JSON. Empty username and hostname mean
// the current user and this host.
func (r *Repository) saveKey(ctx context.Context, master *crypto.Key, password, username, hostname string) (NewKey, error) {
	p, err := r.kdfParams()
	if err != nil {
		return NewKey{}, err
	}
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	if username == "" {
		if u, err := user.Current(); err == nil {
			username = u.Username
		}
	}
	created := time.Now()
	kf, err := crypto.NewKeyFile(master, password, p, username, hostname, created)
	if err != nil {
		return NewKey{}, fmt.Errorf("new key file: %w", err)
	}
	buf, err := kf.Marshal()
	if err != nil {
		return NewKey{}, err
	}
	id := model.Hash(buf)
	if err := r.be.Save(ctx, backend.Handle{Type: backend.KeyFile, Name: id.String()}, backend.NewByteReader(buf)); err != nil {
		return NewKey{}, fmt.Errorf("save key %s: %w", id.Str(), err)
	}
	return NewKey{ID: id, Username: username, Hostname: hostname, Created: created}, nil
}

// AddKey stores a new key file that opens the repository's master key
// with password, then checks that the stored file opens the repository
// (removing it again when it does not). Empty username and hostname mean
// the current user and this host.
func (r *Repository) AddKey(ctx context.Context, password, username, hostname string) (NewKey, error) {
	k, err := r.saveKey(ctx, r.key, password, username, hostname)
	if err != nil {
		return NewKey{}, fmt.Errorf("add key: %w", err)
	}
	if err := r.verifyKey(ctx, k.ID, password); err != nil {
		// A key that does not open the repository must not stay behind.
		_ = r.be.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: k.ID.String()})
		return NewKey{}, &KeyCheckError{Err: err}
	}
	return k, nil
}

// KeyCheckError is returned by AddKey and ChangePassword when the new key
// file, once stored, does not open the repository; the file has been removed.
type KeyCheckError struct{ Err error }

func (e *KeyCheckError) Error() string {
	return "failed to access repository with new key: " + e.Err.Error()
}

func (e *KeyCheckError) Unwrap() error { return e.Err }

// verifyKey reads key file id back, opens it with password and checks
// that it holds the repository's master key and decrypts the config.
func (r *Repository) verifyKey(ctx context.Context, id model.ID, password string) error {
	kf, err := r.LoadKeyFile(ctx, id.String())
	if err != nil {
		return err
	}
	master, err := kf.Open(password)
	if err != nil {
		return fmt.Errorf("open key %s: %w", id.Str(), err)
	}
	a, _ := json.Marshal(master)
	b, _ := json.Marshal(r.key)
	if !bytes.Equal(a, b) {
		return fmt.Errorf("key %s holds a different master key", id.Str())
	}
	buf, err := r.LoadRaw(ctx, backend.ConfigFile, model.ID{})
	if err != nil {
		return fmt.Errorf("config cannot be loaded: %w", err)
	}
	if _, err := master.Open(nil, buf); err != nil {
		return fmt.Errorf("config cannot be decrypted: %w", err)
	}
	return nil
}

// ChangePassword replaces the key the repository was opened with: it adds
// a key file for newPassword (checked as in AddKey), switches the
// repository to it and then removes the old key file.
func (r *Repository) ChangePassword(ctx context.Context, newPassword, username, hostname string) (NewKey, error) {
	old := r.keyID
	k, err := r.AddKey(ctx, newPassword, username, hostname)
	if err != nil {
		return NewKey{}, err
	}
	r.keyID, r.keyFile = k.ID, nil
	if err := r.RemoveKey(ctx, old); err != nil {
		return k, fmt.Errorf("remove old key %s: %w", old.Str(), err)
	}
	return k, nil
}

// RemoveKey deletes key file id. It refuses the key the repository was
// opened with (ErrRemoveCurrentKey).
func (r *Repository) RemoveKey(ctx context.Context, id model.ID) error {
	if id == r.keyID {
		return ErrRemoveCurrentKey
	}
	if err := r.be.Remove(ctx, backend.Handle{Type: backend.KeyFile, Name: id.String()}); err != nil {
		return fmt.Errorf("remove key %s: %w", id.Str(), err)
	}
	return nil
}

// FindKey resolves a key file ID prefix (a whole ID too must name an
// existing file). The error is a *PrefixError when nothing or more than
// one file matches.
func (r *Repository) FindKey(ctx context.Context, prefix string) (model.ID, error) {
	var match model.ID
	found := false
	err := r.List(ctx, backend.KeyFile, func(id model.ID, _ int64) error {
		if !strings.HasPrefix(id.String(), prefix) {
			return nil
		}
		if found {
			return &PrefixError{Prefix: prefix, Ambiguous: true}
		}
		match, found = id, true
		return nil
	})
	var pe *PrefixError
	if errors.As(err, &pe) {
		return model.ID{}, pe
	}
	if err != nil {
		return model.ID{}, fmt.Errorf("list keys: %w", err)
	}
	if !found {
		return model.ID{}, &PrefixError{Prefix: prefix}
	}
	return match, nil
}
