package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
)

// Errors Create returns (inside a *CreateError) when the location already
// holds a repository. Their texts are restic's.
var (
	// ErrConfigExists: the location has a config file (the backend's
	// Create found it).
	ErrConfigExists = backend.ErrConfigExists
	// ErrAlreadyInitialized: a config file appeared after the backend was prepared.
	ErrAlreadyInitialized = errors.New("repository master key and config already initialized")
	// ErrHasKeys: the location has no config but key files.
	ErrHasKeys = errors.New("repository already contains keys")
	// ErrHasSnapshots: the location has no config but snapshot files.
	ErrHasSnapshots = errors.New("repository already contains snapshots")
)

// CreateOptions tune Create. The zero value makes a repository of the
// stable format version with a random chunker polynomial and calibrated
// scrypt parameters, owned by the current user on this host.
type CreateOptions struct {
	// Version is the repository format version (0: model.StableRepoVersion).
	Version uint
	// ChunkerPolynomial, when set, is used instead of a random one (to
	// share deduplication with another repository).
	ChunkerPolynomial *chunker.Pol
	// KDFParams are the scrypt parameters of the key file and of keys the
	// returned Repository adds later. nil: calibrate for this machine with
	// restic's targets (crypto.DefaultCalibrateTimeout and
	// crypto.DefaultCalibrateMemory).
	KDFParams *crypto.Params
	// Username and Hostname are recorded in the key file; empty means the
	// current user and this host's name.
	Username, Hostname string
	// Compression sets the level of the files kept outside packs, as
	// OpenOptions.Compression does.
	Compression CompressionMode
}

// CreateError is what Create returns on failure. Backend is true when
// preparing the location failed (restic reports such errors as "create
// repository at … failed"), false when writing the key or config failed
// ("create key in repository at … failed"). Err is the cause, whose text
// is restic's for the errors above.
type CreateError struct {
	Backend bool
	Err     error
}

func (e *CreateError) Error() string {
	if e.Backend {
		return "create repository: " + e.Err.Error()
	}
	return "initialize repository: " + e.Err.Error()
}

func (e *CreateError) Unwrap() error { return e.Err }

// Create makes a new repository in be, protected by password, and returns
// it open. In restic's order: it refuses a location that has a config file,
// prepares the backend, refuses a location holding keys or snapshots, then
// writes a new master key's key file and finally the sealed config.
func Create(ctx context.Context, be backend.Backend, password string, opts CreateOptions) (*Repository, error) {
	version := opts.Version
	if version == 0 {
		version = model.StableRepoVersion
	}
	if version > model.MaxRepoVersion {
		return nil, &CreateError{Err: fmt.Errorf("repository version %v too high", version)}
	}
	if version < model.MinRepoVersion {
		return nil, &CreateError{Err: fmt.Errorf("repository version %v too low", version)}
	}
	if opts.ChunkerPolynomial != nil && !opts.ChunkerPolynomial.Irreducible() {
		return nil, &CreateError{Err: fmt.Errorf("chunker polynomial %v is not irreducible", *opts.ChunkerPolynomial)}
	}

	// The backends' Create looks for a config file first (but S3's), as
	// restic's do, and reports what keeps it from preparing the location
	// (such as a path below a regular file) at once: a Stat through a
	// retrying backend would retry that for minutes.
	if err := be.Create(ctx); err != nil {
		return nil, &CreateError{Backend: true, Err: err}
	}

	// The checks restic makes once the location is prepared: a repository
	// whose config and keys were removed by a retention policy must not be
	// overwritten.
	if exists, err := configExists(ctx, be); err != nil {
		return nil, &CreateError{Err: err}
	} else if exists {
		return nil, &CreateError{Err: ErrAlreadyInitialized}
	}
	for _, c := range []struct {
		t   backend.FileType
		err error
	}{{backend.KeyFile, ErrHasKeys}, {backend.SnapshotFile, ErrHasSnapshots}} {
		if err := anyFile(ctx, be, c.t, c.err); err != nil {
			return nil, &CreateError{Err: err}
		}
	}

	cfg := model.Config{Version: version, ID: model.NewRandomID().String()}
	if opts.ChunkerPolynomial != nil {
		cfg.ChunkerPolynomial = *opts.ChunkerPolynomial
	} else {
		pol, err := chunker.RandomPolynomial(nil)
		if err != nil {
			return nil, &CreateError{Err: fmt.Errorf("chunker polynomial: %w", err)}
		}
		cfg.ChunkerPolynomial = pol
	}

	r := newRepository(be)
	r.unpackedLevel = opts.Compression.zstdLevel()
	r.cfg = cfg
	if opts.KDFParams != nil {
		r.SetKDFParams(*opts.KDFParams)
	}
	master := crypto.NewRandomKey()
	k, err := r.saveKey(ctx, master, password, opts.Username, opts.Hostname)
	if err != nil {
		r.Close()
		return nil, &CreateError{Err: err}
	}
	r.setKey(master)
	r.keyID = k.ID

	if err := r.saveConfig(ctx, cfg); err != nil {
		r.Close()
		return nil, &CreateError{Err: err}
	}
	return r, nil
}

// configExists reports whether be has a config file.
func configExists(ctx context.Context, be backend.Backend) (bool, error) {
	_, err := be.Stat(ctx, backend.Handle{Type: backend.ConfigFile})
	switch {
	case err == nil:
		return true, nil
	case backend.IsNotExist(err):
		return false, nil
	}
	return false, fmt.Errorf("stat config: %w", err)
}

// anyFile returns found when be holds a file of type t.
func anyFile(ctx context.Context, be backend.Backend, t backend.FileType, found error) error {
	err := be.List(ctx, t, func(fi backend.FileInfo) error {
		if _, err := model.ParseID(fi.Name); err != nil {
			return nil // not a repository file
		}
		return found
	})
	if err != nil && !errors.Is(err, found) {
		return fmt.Errorf("list %s files: %w", t, err)
	}
	return err
}

// saveConfig seals cfg's JSON (never compressed) and stores it as config.
func (r *Repository) saveConfig(ctx context.Context, cfg model.Config) error {
	plain, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	buf := r.key.Seal(make([]byte, 0, len(plain)+crypto.Extension), plain)
	// Check the sealed bytes before they become the repository's only config.
	if check, err := r.key.Open(nil, buf); err != nil || string(check) != string(plain) {
		return fmt.Errorf("save config: sealed config does not open again (%v)", err)
	}
	if err := r.be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader(buf)); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}
