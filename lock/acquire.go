package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// maxStaleRounds bounds how often one attempt removes stale locks and checks
// again before it gives up.
const maxStaleRounds = 5

// Acquire takes a shared or exclusive lock. It retries for Options.RetryLock
// while the repository is locked (or holds an unreadable lock), with
// restic's backoff. A conflict is returned as an error wrapping
// *ConflictError, worded as restic's ("unable to create lock in backend:
// repository is already locked …"). The returned lock refreshes itself until
// Release; its Context is cancelled when it is lost.
func (l *Locker) Acquire(ctx context.Context, exclusive bool) (*Held, error) {
	return l.acquire(ctx, exclusive, l.opts.OnWritten)
}

// AcquireNotify is Acquire with a hook of its own, called after
// Options.OnWritten when an attempt has written its lock file and starts
// its check delay (see Options.OnWritten). It lets a caller read while the
// lock is confirmed without a Locker of its own (one Locker per
// repository keeps the watch list of foreign locks).
func (l *Locker) AcquireNotify(ctx context.Context, exclusive bool, onWritten func()) (*Held, error) {
	hook := onWritten
	if both := l.opts.OnWritten; both != nil && onWritten != nil {
		hook = func() {
			both()
			onWritten()
		}
	} else if onWritten == nil {
		hook = l.opts.OnWritten
	}
	return l.acquire(ctx, exclusive, hook)
}

func (l *Locker) acquire(ctx context.Context, exclusive bool, onWritten func()) (*Held, error) {
	o := l.opts
	clk := o.Clock
	deadline := clk.Monotonic() + o.RetryLock
	retrySleep := min(o.RetrySleepStart, o.RetryLock)
	notified := false
	for {
		h, err := l.try(ctx, exclusive, onWritten)
		if err == nil {
			return h, nil
		}
		var ce *ConflictError
		isConflict := errors.As(err, &ce)
		if !isConflict && !IsInvalidLock(err) {
			return nil, err
		}
		if isConflict && !notified && o.OnLocked != nil {
			o.OnLocked(ce, o.RetryLock)
		}
		notified = true
		remaining := deadline - clk.Monotonic()
		if remaining <= 0 {
			if isConflict {
				return nil, fmt.Errorf("unable to create lock in backend: %w", err)
			}
			return nil, err
		}
		if err := sleep(ctx, min(retrySleep, remaining)); err != nil {
			return nil, err
		}
		retrySleep = min(retrySleep*2, o.RetrySleepMax)
	}
}

// try makes one attempt: check, write, wait, re-check (removing stale locks
// and breaking ties as described in the package doc).
func (l *Locker) try(ctx context.Context, exclusive bool, onWritten func()) (*Held, error) {
	o := l.opts
	clk := o.Clock

	infos, err := l.scanRetry(ctx)
	if err != nil {
		return nil, err
	}
	if err := blocking(infos, exclusive, ""); err != nil {
		return nil, err
	}

	lk := l.me
	lk.Exclusive = exclusive
	writtenFrom := clk.Monotonic()
	lk.Time = clk.Now()
	buf, err := lk.Marshal()
	if err != nil {
		return nil, err
	}
	id, err := l.store.SaveLock(ctx, buf)
	if err != nil {
		// restic's words: its backend's report of the failed save, then
		// the error
		if len(id) >= 10 && ctx.Err() == nil {
			l.logf("Save(<lock/%s>) failed: %v", id[:10], err)
		}
		return nil, fmt.Errorf("unable to create lock in backend: %w", err)
	}
	l.addOwn(id, clk.Monotonic())
	if onWritten != nil {
		onWritten()
	}
	fail := func(err error) (*Held, error) {
		if rerr := l.removeDetached(ctx, id); rerr != nil {
			l.logf("lock: %v", rerr)
		}
		l.dropOwn(id)
		return nil, err
	}

	wait := o.CheckDelay
	var tieUntil time.Duration
	tieBreaking := false
	staleRounds := 0
	for {
		if err := sleep(ctx, wait); err != nil {
			return fail(err)
		}
		infos, err := l.scanRetry(ctx)
		if err != nil {
			return fail(err)
		}
		found := false
		for _, in := range infos {
			if in.ID == id {
				found = true
			}
		}
		if !found {
			return fail(fmt.Errorf("lock: our new lock %s was removed by another process during acquisition", shortID(id)))
		}
		if err := blocking(infos, exclusive, id); err != nil {
			var ce *ConflictError
			if errors.As(err, &ce) && allAbove(ce.Locks, id) {
				// Tie-break: every conflicting lock has a larger ID. An
				// arca contender withdraws on seeing ours; give the others
				// up to 2×CheckDelay to do so.
				if !tieBreaking {
					tieBreaking, tieUntil = true, clk.Monotonic()+o.tieWindow()
				}
				if clk.Monotonic() < tieUntil {
					wait = max(o.CheckDelay/4, time.Millisecond)
					continue
				}
			}
			return fail(err)
		}
		var stale []Info
		conflicting := false
		for _, in := range infos {
			if in.Stale && !in.Own {
				stale = append(stale, in)
				conflicting = conflicting || conflicts(in, exclusive)
			}
		}
		if len(stale) > 0 {
			if staleRounds == maxStaleRounds {
				return fail(conflictError(stale, exclusive))
			}
			staleRounds++
			for _, in := range stale {
				removed, err := l.removeStale(ctx, in.ID)
				if err != nil {
					return fail(err)
				}
				if removed {
					l.logf("lock: removed stale lock %s: %s", shortID(in.ID), in.Reason)
				}
			}
			if conflicting {
				// Check again after the removal: a holder that revived
				// its lock meanwhile has written a new file by now.
				wait = o.CheckDelay
				continue
			}
		}
		return l.newHeld(ctx, id, lk, writtenFrom), nil
	}
}

// conflicts reports whether an existing lock stands against a new lock of
// the given kind. Unreadable locks may be exclusive, so they always do.
func conflicts(in Info, exclusive bool) bool {
	if in.Ignored {
		return false
	}
	return exclusive || in.Err != nil || in.Lock.Exclusive
}

// blocking returns the error for the live locks among infos that stand
// against a new lock (other than self): an InvalidLockError for an unreadable
// one, else a ConflictError, else nil.
func blocking(infos []Info, exclusive bool, self string) error {
	var live []Info
	for _, in := range infos {
		if in.ID == self || in.Stale || !conflicts(in, exclusive) {
			continue
		}
		if in.Err != nil {
			return &InvalidLockError{ID: in.ID, Err: in.Err}
		}
		live = append(live, in)
	}
	if len(live) == 0 {
		return nil
	}
	return conflictError(live, exclusive)
}

func conflictError(locks []Info, exclusive bool) *ConflictError {
	locks = append([]Info(nil), locks...)
	sort.SliceStable(locks, func(i, j int) bool {
		return locks[i].Lock.Exclusive && !locks[j].Lock.Exclusive
	})
	return &ConflictError{Exclusive: exclusive, Locks: locks}
}

func allAbove(locks []Info, id string) bool {
	for _, in := range locks {
		if in.ID <= id {
			return false
		}
	}
	return true
}
