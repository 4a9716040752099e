package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/restorer"
	"github.com/arca-backup/arca/repo/walker"
)

// Snapshots returns the snapshots that match filter (the zero filter
// matches all), oldest first, under a shared lock. Snapshot files that
// cannot be read are skipped; onError, when not nil, is told about each.
func (e *Repository) Snapshots(ctx context.Context, filter repo.SnapshotFilter, onError func(id model.ID, err error)) ([]*model.Snapshot, error) {
	var out []*model.Snapshot
	err := e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		all, err := e.r.Snapshots(ctx, func(id model.ID, err error) error {
			if onError != nil {
				onError(id, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, sn := range all {
			if filter.Matches(sn) {
				out = append(out, sn)
			}
		}
		return nil
	})
	return out, err
}

// FindSnapshot resolves a snapshot name: an ID, a unique ID prefix, or
// "latest" (the newest snapshot matching filter). It fails with
// ErrNoSnapshot when nothing matches.
func (e *Repository) FindSnapshot(ctx context.Context, name string, filter repo.SnapshotFilter) (*model.Snapshot, error) {
	var sn *model.Snapshot
	err := e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		var err error
		sn, err = e.findSnapshot(ctx, name, filter)
		return err
	})
	return sn, err
}

func (e *Repository) findSnapshot(ctx context.Context, name string, filter repo.SnapshotFilter) (*model.Snapshot, error) {
	all, err := e.r.Snapshots(ctx, func(model.ID, error) error { return nil })
	if err != nil {
		return nil, err
	}
	sel, err := repo.FindSnapshot(ctx, e.r, all, name, filter)
	if err != nil {
		return nil, err
	}
	if sel.Subfolder != "" {
		return nil, fmt.Errorf("snapshot %q: a subfolder is not allowed here", name)
	}
	return sel.Snapshot, nil
}

// Entry is one item of a snapshot listed by List: its path in the
// snapshot ("/home/user/file") and its node (type, size, mode, times,
// owner, content).
type Entry struct {
	Path string
	Node *model.Node
}

// List calls fn for every item of the snapshot named by snapshot (as for
// FindSnapshot, with the zero filter), depth first in name order, under a
// shared lock. fn may return walker.ErrSkipNode to skip a directory's
// contents; any other error ends the listing and is returned.
func (e *Repository) List(ctx context.Context, snapshot string, fn func(Entry) error) error {
	return e.Read(ctx, func(ctx context.Context, rd *Reader) error {
		sn, err := e.findSnapshot(ctx, snapshot, repo.SnapshotFilter{})
		if err != nil {
			return err
		}
		return rd.Walk(ctx, *sn.Tree, walker.Visitor{
			Node: func(_ model.ID, path string, node *model.Node) error {
				if node == nil {
					return nil
				}
				return fn(Entry{Path: path, Node: node})
			},
		})
	})
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Filter chooses the snapshot when the name is "latest".
	Filter repo.SnapshotFilter
	// Subfolder restores only this directory of the snapshot
	// ("home/user"), placing its contents directly in the target. The
	// snapshot name may give it too, as restic's "latest:home/user".
	Subfolder string
	// Restore holds the overwrite mode, Delete, Sparse, DryRun and the
	// item selection (see restorer.Options).
	Restore restorer.Options
	// Verify reads every restored file back and checks its content. It
	// is skipped when items could not be restored (RestoreResult.Errors).
	Verify bool
	// Events receives each item done, errors and warnings (nil: an
	// item that cannot be restored aborts the restore).
	Events restorer.Events

	// Status, when set, receives the running totals (items and bytes
	// restored of the total, skipped, deleted) every StatusInterval
	// while the restore runs, and once more with Done set when the
	// restore (before any verification) has finished without error.
	// StatusInterval 0 means only that final report. Reports arrive
	// one at a time, and none after Restore returns.
	Status         func(RestoreStatus)
	StatusInterval time.Duration
	// Verifying, when set, is called before the verification starts.
	Verifying func()
	// VerifyProgress, when set, is called with the files verified so far
	// and the number to verify: 0 first, then after each (one call at a
	// time).
	VerifyProgress func(done, total int)
}

// RestoreStatus is a report of a restore's progress.
type RestoreStatus struct {
	// State counts items and bytes: finished of the total, skipped and
	// deleted.
	restorer.State
	// Elapsed is the time since the restore started.
	Elapsed time.Duration
	// Done marks the final report.
	Done bool
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	// Snapshot is the snapshot restored (nil from Reader.Restore).
	Snapshot *model.Snapshot
	// State counts items and bytes restored, skipped and deleted.
	State restorer.State
	// Elapsed is how long the restore took (without verification).
	Elapsed time.Duration
	// FilesWritten is the number of files whose content was written.
	FilesWritten uint64
	// Errors is the number of items reported through Events.Error,
	// during the restore and the verification.
	Errors int
	// FilesVerified is the number of files that passed Verify.
	FilesVerified int
}

// Restore writes the snapshot named by snapshot (an ID, prefix or
// "latest", optionally with ":subfolder") below the directory target,
// under a shared lock. Progress arrives through opts.Events as each item
// is done and through opts.Status as running totals.
func (e *Repository) Restore(ctx context.Context, snapshot, target string, opts RestoreOptions) (*RestoreResult, error) {
	var res *RestoreResult
	err := e.Read(ctx, func(ctx context.Context, rd *Reader) error {
		all, err := rd.Snapshots(ctx, nil)
		if err != nil {
			return err
		}
		sel, err := rd.FindSnapshot(ctx, all, snapshot, opts.Filter)
		if err != nil {
			return err
		}
		sn := sel.Snapshot
		sub := opts.Subfolder
		if sub == "" {
			sub = sel.Subfolder
		}
		tree, err := rd.RestoreTree(ctx, sn, sub)
		if err != nil {
			return err
		}
		res, err = rd.Restore(ctx, tree, target, opts)
		if res != nil {
			res.Snapshot = sn
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", sn.ID.Str(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// RestoreTree returns the tree Reader.Restore restores for the directory
// sub of the snapshot sn (its root when sub is "").
func (rd *Reader) RestoreTree(ctx context.Context, sn *model.Snapshot, sub string) (model.ID, error) {
	if sn.Tree == nil {
		return model.ID{}, fmt.Errorf("snapshot %s has no tree", sn.ID.Str())
	}
	if err := rd.e.LoadIndex(ctx); err != nil {
		return model.ID{}, err
	}
	return restorer.FindTree(ctx, rd.e.r, *sn.Tree, sub)
}

// Restore writes the tree (a snapshot's root or a directory in it, see
// RestoreTree) below the directory target. opts.Filter and
// opts.Subfolder do not apply here. On an error the result, when not nil,
// still tells what was done.
func (rd *Reader) Restore(ctx context.Context, tree model.ID, target string, opts RestoreOptions) (*RestoreResult, error) {
	r := rd.e.r
	if err := rd.e.LoadIndex(ctx); err != nil {
		return nil, err
	}
	res := &RestoreResult{}
	var errMu sync.Mutex
	events := opts.Events
	if onError := events.Error; onError != nil {
		events.Error = func(location string, err error) error {
			errMu.Lock()
			res.Errors++
			errMu.Unlock()
			return onError(location, err)
		}
	}
	rs := restorer.New(r, tree, opts.Restore, events)
	errCount := func() int {
		errMu.Lock()
		defer errMu.Unlock()
		return res.Errors
	}

	start := time.Now()
	stopStatus := reportRestoreStatus(rs, start, opts)
	var err error
	res.FilesWritten, err = rs.RestoreTo(ctx, target)
	stopStatus()
	res.State = rs.State()
	res.Elapsed = time.Since(start)
	if err != nil {
		res.Errors = errCount()
		return res, err
	}
	if opts.Status != nil {
		opts.Status(RestoreStatus{State: res.State, Elapsed: res.Elapsed, Done: true})
	}
	if opts.Verify && !opts.Restore.DryRun && errCount() == 0 {
		if opts.Verifying != nil {
			opts.Verifying()
		}
		if res.FilesVerified, err = rs.VerifyFiles(ctx, target, opts.VerifyProgress); err != nil {
			res.Errors = errCount()
			return res, err
		}
	}
	res.Errors = errCount()
	return res, nil
}

// reportRestoreStatus calls opts.Status every opts.StatusInterval with the
// restore's totals until the returned function is called; that function
// returns once no report is running any more.
func reportRestoreStatus(rs *restorer.Restorer, start time.Time, opts RestoreOptions) (stop func()) {
	if opts.Status == nil || opts.StatusInterval <= 0 {
		return func() {}
	}
	stopCh, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(opts.StatusInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				opts.Status(RestoreStatus{State: rs.State(), Elapsed: time.Since(start)})
			case <-stopCh:
				return
			}
		}
	}()
	return func() {
		close(stopCh)
		<-done
	}
}
