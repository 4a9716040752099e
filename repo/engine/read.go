package engine

import (
	"context"
	"fmt"

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
	return e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		sn, err := e.findSnapshot(ctx, snapshot, repo.SnapshotFilter{})
		if err != nil {
			return err
		}
		if err := e.r.LoadIndex(ctx, nil); err != nil {
			return err
		}
		return walker.Walk(ctx, e.r, *sn.Tree, walker.Visitor{
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
	// ("home/user"), placing its contents directly in the target.
	Subfolder string
	// Restore holds the overwrite mode, Delete, Sparse, DryRun and the
	// item selection (see restorer.Options).
	Restore restorer.Options
	// Verify reads every restored file back and checks its content.
	Verify bool
	// Events receives each item done, errors and warnings (nil: an
	// item that cannot be restored aborts the restore).
	Events restorer.Events
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	Snapshot *model.Snapshot
	// State counts items and bytes restored, skipped and deleted.
	State restorer.State
	// FilesWritten is the number of files whose content was written.
	FilesWritten uint64
	// FilesVerified is the number of files that passed Verify.
	FilesVerified int
}

// Restore writes the snapshot named by snapshot (an ID, prefix or
// "latest") below the directory target, under a shared lock. Progress
// arrives through opts.Events as each item is done.
func (e *Repository) Restore(ctx context.Context, snapshot, target string, opts RestoreOptions) (*RestoreResult, error) {
	res := &RestoreResult{}
	err := e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		sn, err := e.findSnapshot(ctx, snapshot, opts.Filter)
		if err != nil {
			return err
		}
		res.Snapshot = sn
		if err := e.r.LoadIndex(ctx, nil); err != nil {
			return err
		}
		tree := *sn.Tree
		if opts.Subfolder != "" {
			if tree, err = restorer.FindTree(ctx, e.r, tree, opts.Subfolder); err != nil {
				return err
			}
		}
		rs := restorer.New(e.r, tree, opts.Restore, opts.Events)
		res.FilesWritten, err = rs.RestoreTo(ctx, target)
		res.State = rs.State()
		if err != nil {
			return fmt.Errorf("restore %s: %w", sn.ID.Str(), err)
		}
		if opts.Verify && !opts.Restore.DryRun {
			if res.FilesVerified, err = rs.VerifyFiles(ctx, target, nil); err != nil {
				return fmt.Errorf("verify %s: %w", sn.ID.Str(), err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
