package main

import (
	"context"
	"errors"
	"time"

	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// lockOptions builds the lock timings from the environment and flags.
func (a *app) lockOptions() (lock.Options, error) {
	opts, err := lock.OptionsFromEnv(lock.DefaultOptions())
	if err != nil {
		return opts, fatalf("%v", err)
	}
	opts.RetryLock = a.opts.RetryLock
	opts.OnLocked = func(_ *lock.ConflictError, retry time.Duration) {
		if !a.opts.JSON { // restic prints it even without --retry-lock
			a.printf("%s", lock.RetryMessage(retry))
		}
	}
	opts.Logf = func(format string, args ...any) { a.warnf(format+"\n", args...) }
	return opts, nil
}

// openLocker opens the repository (taking no lock) and a lock manager for
// it, for commands that inspect or remove locks.
func (a *app) openLocker(ctx context.Context) (*repo.Repository, *lock.Locker, error) {
	r, err := a.openRepository(ctx)
	if err != nil {
		return nil, nil, err
	}
	opts, err := a.lockOptions()
	if err == nil {
		var l *lock.Locker
		if l, err = r.Locker(opts); err == nil {
			return r, l, nil
		}
	}
	r.Close()
	r.Backend().Close()
	return nil, nil, err
}

// lockRepository takes the repository lock for a command. It returns a
// release function and a context that is cancelled when the lock is lost.
func (a *app) lockRepository(ctx context.Context, r *repo.Repository, mode lockMode) (release func(), lctx context.Context, err error) {
	// --no-lock skips only read locks, as in restic; commands that allow
	// it for other locks (check, prune --dry-run, …) ask for lockNone
	if mode == lockNone || (a.opts.NoLock && mode == lockShared) {
		return func() {}, ctx, nil
	}
	opts, err := a.lockOptions()
	if err != nil {
		return nil, nil, err
	}
	held, err := r.Lock(ctx, mode == lockExclusive, opts)
	if err != nil {
		return nil, nil, err
	}
	a.lockCtx = held.Context()
	return func() { a.releaseLock(held) }, held.Context(), nil
}

// releaseLock removes a held lock at the end of a command.
func (a *app) releaseLock(held *lock.Held) {
	// after a loss the lock files are removed on a best-effort basis:
	// the backend may be what failed, and nothing waits for them
	timeout := time.Minute
	if held.Err() != nil {
		timeout = time.Second
	}
	rctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := held.Release(rctx); err != nil && !errors.Is(err, lock.ErrLost) && !errors.Is(err, context.DeadlineExceeded) {
		a.warnf("unable to remove lock: %v\n", err)
	}
}

// lockLost returns why the command's lock was lost, or nil.
func (a *app) lockLost() error {
	if a.lockCtx == nil || a.lockCtx.Err() == nil {
		return nil
	}
	if cause := context.Cause(a.lockCtx); errors.Is(cause, lock.ErrLost) {
		return cause
	}
	return nil
}

// lockVerdict is the line arca adds to restic's "already locked" text:
// whether the blocking lock is stale (it never is: stale locks are removed)
// and why.
func lockVerdict(err error) string {
	var ce *lock.ConflictError
	if !errors.As(err, &ce) || len(ce.Locks) == 0 {
		return ""
	}
	in := ce.Locks[0]
	if in.Reason == "" {
		return "\nthe lock is not stale"
	}
	return "\nthe lock is not stale: " + in.Reason
}

// isLockConflict reports whether err means the repository is locked by
// someone else (exit code 11).
func isLockConflict(err error) bool { return lock.IsConflict(err) }
