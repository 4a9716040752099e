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

import (
	"context"
	"sync"

	"github.com/arca-backup/arca/backend/writegate"
)

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

	var (
		out      lockOutcome
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
		if out.err != nil {
			b.drop()
			gate.Fail(out.err)
			cancelWork(out.err)
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
	err = lockLost(ctx, workCtx, err)
	if err != nil {
		return nil, err
	}
	return res, nil
}
