package main

import (
	"errors"
	"time"

	"github.com/arca-backup/arca/lock"
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
