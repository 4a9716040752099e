package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/backend/connect"
	"github.com/arca-backup/arca/backend/writegate"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// Options say how to open a repository. Only Password (or PasswordFunc) is
// needed for a local repository with restic's defaults.
type Options struct {
	// Password unlocks the repository's key. PasswordFunc, when set, is
	// called instead, once the location is known to hold a repository
	// (so a program can prompt only when there is something to unlock).
	Password     string
	PasswordFunc func(ctx context.Context) (string, error)
	// KnownPassword, when set beside PasswordFunc, returns the password
	// PasswordFunc will return if it is known before the repository is
	// found without asking anyone (restic resolves --password-file,
	// --password-command and RESTIC_PASSWORD as a command starts). Open
	// then derives the key from the key file the cache remembers for the
	// location while it connects (see cache.RecallKey), as it does with
	// Password.
	KnownPassword func() (string, bool)
	// RetryPassword, when set beside PasswordFunc, is called when
	// PasswordFunc fails or its password opens no key
	// (ErrWrongPassword); when it returns true, PasswordFunc is asked
	// again (restic asks a person at a terminal up to three times).
	RetryPassword func(err error) bool
	// KeyHint names the key file to try first (ID or prefix); MaxKeys
	// bounds how many key files are tried (0: all, restic tries 20).
	KeyHint string
	MaxKeys int

	// Backend configures the storage: -o options, TLS, rate limits,
	// retries, REST credentials (see connect.Options).
	Backend connect.Options

	// CacheDir is where the local cache of a remote repository's
	// metadata lives ("": the user's cache directory, as restic).
	// NoCache turns the cache off. Local repositories are never cached.
	CacheDir string
	NoCache  bool

	// Lock holds the lock timings and retry policy (zero fields: restic's
	// defaults; see lock.Options). The engine takes the locks itself.
	Lock lock.Options
	// NoLock skips the shared lock of operations that only read
	// (snapshots, list, restore, dump, diff, stats, keys, a copy's
	// source), as restic's --no-lock does, for repositories on read-only
	// storage. Operations that write still lock.
	NoLock bool

	// Compression sets the zstd level of the index, snapshot and lock
	// files of a version 2 repository, as restic's global --compression
	// does (see repo.OpenOptions.Compression). The level of packs is each
	// operation's own (WriteOptions.Compression).
	Compression repo.CompressionMode

	// IndexProgress, when set, follows the loading of the index files by
	// the operations that need the index (see repo.IndexProgress); restic
	// shows it as a counter on a terminal. A Repository loads them once.
	IndexProgress repo.IndexProgress
}

// InitOptions say how to create a repository.
type InitOptions struct {
	Options
	// Create tunes the new repository: format version, chunker
	// polynomial, scrypt parameters (see repo.CreateOptions).
	Create repo.CreateOptions
}

// Repository is an open repository. Its methods may be called from several
// goroutines at once: each operation takes the lock it needs (shared,
// or exclusive for prune and the like) for as long as it runs. Within one
// Repository an exclusive operation waits for the running shared ones
// (and they for it) rather than failing on the lock.
type Repository struct {
	r        *repo.Repository
	location string
	lockOpts lock.Options
	noLock   bool

	lockerOnce sync.Once
	locker     *lock.Locker
	lockerErr  error

	cacheErr error

	// ops orders this Repository's own operations: shared ones run
	// together, an exclusive one (prune, forget, check) waits for them
	// and they for it, instead of failing on each other's lock files.
	ops sync.RWMutex

	closeOnce sync.Once
}

// Open opens the repository at location ("/srv/backup", "sftp:host:/path",
// "s3:https://host/bucket/path", "rest:https://host/"). The errors to
// expect: ErrNoRepository when there is none, ErrWrongPassword when no key
// opens with the password, and *connect.Error for an invalid location or
// option. Close the repository when done.
func Open(ctx context.Context, location string, opts Options) (*Repository, error) {
	shown := connect.Shown(location)
	cached := connect.IsRemote(location) && !opts.NoCache
	var early *earlyKey
	if cached {
		early = startEarlyKey(opts, shown)
	}
	be, err := connect.Open(ctx, location, opts.Backend)
	if err != nil {
		return nil, err
	}
	e, err := openBackend(ctx, be, opts, early)
	if err != nil {
		be.Close()
		return nil, err
	}
	e.location = shown
	if cached {
		e.useCache(opts.CacheDir)
		if c := e.r.Cache(); c != nil && e.r.KeyFile() != nil {
			// a memo that cannot be written only costs the next command
			// the overlap; the cache's own errors are reported above
			_ = c.RememberKey(shown, e.r.KeyFile())
		}
	}
	return e, nil
}

// OpenBackend opens the repository stored in be (for a program that builds
// its own backend). Close closes be too. No local cache is set up.
func OpenBackend(ctx context.Context, be backend.Backend, opts Options) (*Repository, error) {
	return openBackend(ctx, be, opts, nil)
}

// openBackend is OpenBackend with the early derivation Open started, if
// any.
func openBackend(ctx context.Context, be backend.Backend, opts Options, early *earlyKey) (*Repository, error) {
	for {
		r, err := openWithPassword(ctx, be, opts, early)
		if err == nil {
			return r, nil
		}
		var pf *passwordFuncError
		if errors.As(err, &pf) {
			err = pf.err
		} else if !errors.Is(err, repo.ErrWrongPassword) {
			return nil, err
		}
		if opts.RetryPassword == nil || ctx.Err() != nil || !opts.RetryPassword(err) {
			return nil, err
		}
		early = nil // (it derived from the password that failed)
	}
}

// passwordFuncError is an error of Options.PasswordFunc.
type passwordFuncError struct{ err error }

func (e *passwordFuncError) Error() string { return e.err.Error() }

// openWithPassword asks for the password and opens the repository with it.
func openWithPassword(ctx context.Context, be backend.Backend, opts Options, early *earlyKey) (*Repository, error) {
	pw, err := opts.password(ctx)
	if err != nil {
		return nil, &passwordFuncError{err}
	}
	// writes wait for the gate in their context, if any (a backup that
	// reads while its lock is confirmed; see backupEarly)
	r, err := repo.Open(ctx, writegate.Wrap(be), pw, repo.OpenOptions{KeyHint: opts.KeyHint, MaxKeys: opts.MaxKeys, Early: early.forPassword(pw),
		Compression: opts.Compression, IndexProgress: opts.IndexProgress})
	if err != nil {
		return nil, err
	}
	return &Repository{r: r, location: be.Location(), lockOpts: opts.Lock, noLock: opts.NoLock}, nil
}

// Init creates a repository at location and returns it open. It fails with
// repo.ErrConfigExists when there is one already.
func Init(ctx context.Context, location string, opts InitOptions) (*Repository, error) {
	be, err := connect.Create(ctx, location, opts.Backend)
	if err != nil {
		return nil, err
	}
	e, err := InitBackend(ctx, be, opts)
	if err != nil {
		be.Close()
		return nil, err
	}
	e.location = connect.Shown(location)
	return e, nil
}

// InitBackend creates a repository in be and returns it open.
func InitBackend(ctx context.Context, be backend.Backend, opts InitOptions) (*Repository, error) {
	pw, err := opts.password(ctx)
	if err != nil {
		return nil, err
	}
	create := opts.Create
	create.Compression = opts.Compression
	r, err := repo.Create(ctx, writegate.Wrap(be), pw, create)
	if err != nil {
		return nil, err
	}
	return &Repository{r: r, location: be.Location(), lockOpts: opts.Lock, noLock: opts.NoLock}, nil
}

// knownPassword returns the password if it is known before Open connects.
func (o Options) knownPassword() (string, bool) {
	switch {
	case o.PasswordFunc == nil:
		return o.Password, true
	case o.KnownPassword != nil:
		return o.KnownPassword()
	}
	return "", false
}

func (o Options) password(ctx context.Context) (string, error) {
	if o.PasswordFunc == nil {
		return o.Password, nil
	}
	return o.PasswordFunc(ctx)
}

// useCache opens the local cache; a cache that cannot be opened only costs
// speed, so the failure is kept for CacheError instead of failing Open.
func (e *Repository) useCache(dir string) {
	c, err := cache.Open(dir, e.r.Config().ID)
	if err != nil {
		e.cacheErr = err
		return
	}
	e.r.UseCache(c)
}

// Close releases the repository and its backend. Operations still running
// must have returned.
func (e *Repository) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.r.Close()
		err = e.r.Backend().Close()
	})
	return err
}

// Repo returns the low-level repository, for the operations in repo's
// subpackages that this package does not wrap yet. Callers then take
// locks themselves (Lock).
func (e *Repository) Repo() *repo.Repository { return e.r }

// Location returns where the repository is, in a form safe to show.
func (e *Repository) Location() string { return e.location }

// Config returns the repository's config (ID, version, chunker polynomial).
func (e *Repository) Config() model.Config { return e.r.Config() }

// Cache returns the local cache, or nil; CacheError says why there is
// none when opening it failed.
func (e *Repository) Cache() *cache.Cache { return e.r.Cache() }

// CacheError returns why the local cache could not be opened, or nil.
func (e *Repository) CacheError() error { return e.cacheErr }

// Locker returns the repository's lock manager (one per Repository: it
// remembers which foreign locks it has watched, and for how long).
func (e *Repository) Locker() (*lock.Locker, error) {
	e.lockerOnce.Do(func() {
		e.locker, e.lockerErr = e.r.Locker(e.lockOpts)
	})
	return e.locker, e.lockerErr
}

// LockMode is the kind of lock an operation holds.
type LockMode int

const (
	// NoLock takes no lock (for read-only work the caller knows is safe).
	NoLock LockMode = iota
	// SharedLock allows other shared locks: backup, restore, listing.
	SharedLock
	// ExclusiveLock allows no other lock: prune, forget, key removal.
	ExclusiveLock
)

// Lock takes a lock on the repository and returns a context derived from
// ctx that is cancelled when the lock is lost (removed by someone else, or
// not refreshed in time), and the function that releases the lock. Use
// the returned context for all the work done under the lock. With
// NoLock it returns ctx and a no-op. A conflicting lock gives a
// *LockedError once Options.Lock.RetryLock has passed.
func (e *Repository) Lock(ctx context.Context, mode LockMode) (context.Context, func(), error) {
	return e.lock(ctx, mode, nil)
}

// lock is Lock; onWritten, when set, is called once the lock file is
// written and its check delay starts (see lock.Options.OnWritten).
func (e *Repository) lock(ctx context.Context, mode LockMode, onWritten func()) (context.Context, func(), error) {
	if mode == NoLock {
		return ctx, func() {}, nil
	}
	l, err := e.Locker()
	if err != nil {
		return nil, nil, err
	}
	acquire := l.Acquire
	if onWritten != nil {
		acquire = func(ctx context.Context, exclusive bool) (*lock.Held, error) {
			return l.AcquireNotify(ctx, exclusive, onWritten)
		}
	}
	held, err := acquire(ctx, mode == ExclusiveLock)
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		// after a loss the lock files are removed on a best-effort basis:
		// the backend may be what failed, and nothing waits for them
		timeout := time.Minute
		if held.Err() != nil {
			timeout = time.Second
		}
		rctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := held.Release(rctx); err != nil && !errors.Is(err, lock.ErrLost) && !errors.Is(err, context.DeadlineExceeded) {
			if logf := l.Options().Logf; logf != nil {
				logf("unable to remove lock: %v", err)
			}
		}
	}
	return held.Context(), release, nil
}

// readLock is the lock mode of an operation that only reads: shared, or
// none with Options.NoLock.
func (e *Repository) readLock() LockMode {
	if e.noLock {
		return NoLock
	}
	return SharedLock
}

// withLock runs fn under a lock of the given mode, with the context that
// ends when the lock is lost. An error caused by the loss says so.
func (e *Repository) withLock(ctx context.Context, mode LockMode, fn func(ctx context.Context) error) error {
	if mode == ExclusiveLock {
		e.ops.Lock()
		defer e.ops.Unlock()
	} else {
		e.ops.RLock()
		defer e.ops.RUnlock()
	}
	lctx, release, err := e.Lock(ctx, mode)
	if err != nil {
		return err
	}
	defer release()
	return lockLost(ctx, lctx, fn(lctx))
}

// lockLost returns err, or a *LockLostError when err follows the loss of
// the lock that ended lctx (derived from ctx).
func lockLost(ctx, lctx context.Context, err error) error {
	if err != nil && lctx.Err() != nil && ctx.Err() == nil {
		if cause := context.Cause(lctx); errors.Is(cause, lock.ErrLost) {
			return &LockLostError{Cause: cause, Err: err}
		}
	}
	return err
}

// LoadIndex loads the repository's index into memory if that has not
// happened yet. Operations that need it call it themselves; a program may
// call it early to pay the cost up front.
func (e *Repository) LoadIndex(ctx context.Context) error {
	return e.r.LoadIndex(ctx)
}
