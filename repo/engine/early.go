package engine

// Reading while the lock is confirmed.
//
// Taking a lock costs a fixed wait: list the locks, write the lock file,
// wait the check delay (200 ms, as restic), list the locks again. A
// backup only adds to the repository, so it can read in that time: once
// its lock file is written, a conflicting holder that starts later sees
// it, and one that started earlier is found by the second listing, which
// then refuses the lock. So the backup reads from the moment its lock
// file is written; its writes wait behind a gate (backend/writegate)
// until the lock is granted, and its reports to the caller are held
// until then, and dropped when the lock is refused, so that a refused
// backup looks exactly like one refused before it started.
//
// One case the lock cannot catch: an exclusive holder (prune) that wrote
// its lock after the backup's first listing, did not see the backup's
// lock file in time, and ran to completion within the check delay. The
// backup would then have read the index it replaced. Such an operation
// removes index files, so the backup lists them when it starts reading
// and again when the lock is granted: if one has gone, it stores nothing
// and fails with ErrRepositoryChanged.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/writegate"
	"github.com/arca-backup/arca/repo/model"
)

// ErrRepositoryChanged is the error (wrapped in a *BackupError) of a
// backup that found index files removed while its lock was confirmed: an
// exclusive operation such as prune ran meanwhile. Nothing was stored;
// running the backup again works.
var ErrRepositoryChanged = errors.New("index files were removed while the lock was confirmed (a prune ran meanwhile); nothing was stored, run the backup again")

// lockOutcome is the result of taking a lock.
type lockOutcome struct {
	ctx     context.Context // ends when the lock is lost
	release func()
	err     error
}

// backupEarly runs a backup under a shared lock, reading while the lock
// is confirmed.
func (e *Repository) backupEarly(ctx context.Context, targets []string, opts BackupOptions) (*BackupResult, error) {
	e.ops.RLock()
	defer e.ops.RUnlock()

	written := make(chan struct{})
	var writtenOnce sync.Once
	acquired := make(chan lockOutcome, 1)
	go func() {
		lctx, release, err := e.lock(ctx, SharedLock, func() { writtenOnce.Do(func() { close(written) }) })
		acquired <- lockOutcome{lctx, release, err}
	}()

	gate := writegate.New()
	b := &backupRun{opts: opts, gate: gate, holding: true, delivered: make(chan struct{})}
	workCtx, cancelWork := context.WithCancelCause(writegate.With(ctx, gate))
	defer cancelWork(nil)

	var first *lockOutcome
	select {
	case <-written:
	case o := <-acquired:
		// refused before the lock file was written (or granted without
		// the hook): nothing has been read
		if o.err != nil {
			return nil, o.err
		}
		first = &o
	}
	indexBefore, listErr := e.indexFiles(ctx)

	var (
		out      lockOutcome
		changed  error // the repository changed before the grant
		stopLost = func() bool { return false }
		decided  = make(chan struct{})
	)
	go func() {
		defer close(decided)
		if first != nil {
			out = *first
		} else {
			out = <-acquired
		}
		if out.err == nil {
			changed = cmp.Or(listErr, e.indexKept(ctx, indexBefore))
		}
		if err := cmp.Or(out.err, changed); err != nil {
			b.drop()
			gate.Fail(err)
			cancelWork(err)
			return
		}
		stopLost = context.AfterFunc(out.ctx, func() { cancelWork(context.Cause(out.ctx)) })
		// writes first: a caller's event handler may wait for data to
		// be stored, as it can without the overlap; OnError and Stdin
		// wait for the held reports to be made (backupRun.granted)
		gate.Open()
		b.deliver()
	}()

	res, err := e.backup(workCtx, b, targets)
	<-decided
	if out.err != nil {
		return nil, out.err
	}
	stopLost()
	defer out.release()
	if changed != nil {
		return nil, &BackupError{StageIndex, changed}
	}
	err = lockLost(ctx, workCtx, err)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// indexFiles lists the repository's index files.
func (e *Repository) indexFiles(ctx context.Context) (model.IDSet, error) {
	ids := model.IDSet{}
	err := e.r.List(ctx, backend.IndexFile, func(id model.ID, _ int64) error {
		ids[id] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list index files: %w", err)
	}
	return ids, nil
}

// indexKept returns ErrRepositoryChanged when one of the index files in
// before is gone.
func (e *Repository) indexKept(ctx context.Context, before model.IDSet) error {
	now, err := e.indexFiles(ctx)
	if err != nil {
		return err
	}
	for id := range before {
		if _, ok := now[id]; !ok {
			return ErrRepositoryChanged
		}
	}
	return nil
}
