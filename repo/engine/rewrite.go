package engine

import (
	"context"
	"errors"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/rewriter"
)

// RewriteOptions tune Rewrite. At least one of Excludes, Includes,
// Metadata and SnapshotSummary must be set.
type RewriteOptions struct {
	// Snapshots chooses the snapshots to rewrite.
	Snapshots SnapshotSelection
	// Excludes drop every file and directory one of them rejects;
	// Includes keep only what one of them includes (and the directories
	// leading there). Only one of the two may be given.
	Excludes []filter.RejectFunc
	Includes []filter.IncludeFunc
	// Metadata, when not nil, replaces host and time of the snapshots.
	Metadata *rewriter.Metadata
	// SnapshotSummary adds a summary (files and bytes) to snapshots that
	// lack one.
	SnapshotSummary bool
	// Forget removes each original snapshot once its replacement is
	// saved (and tags the new one with nothing); without it the new
	// snapshot gets the tag "rewrite" and the original stays.
	Forget bool
	// DryRun computes and reports everything but stores nothing.
	DryRun bool
	// Write tunes the writer of the new trees.
	Write repo.WriteOptions
	// Events receives what happens, snapshot by snapshot.
	Events ReplaceEvents
	// Excluded is told about each path an exclude drops; Included and
	// IncludedDir about each file and directory an include keeps.
	Excluded, Included, IncludedDir func(path string)
}

// ReplaceEvents report the progress of Rewrite and RepairSnapshots; any
// field may be nil.
type ReplaceEvents struct {
	// Snapshot is called before each chosen snapshot is worked on; an
	// error it returns stops the operation with a *SnapshotError.
	Snapshot func(sn *model.Snapshot) error
	// Replace tells what becomes of the snapshot: saved anew, removed,
	// left alone, or (dry run) what would be done.
	Replace rewriter.ReplaceEvents
}

// RewriteResult lists the snapshots an operation changed (or, in a dry
// run, would change), by their original IDs, in the order worked on.
type RewriteResult struct {
	Changed []model.ID
}

// Rewrite stores new snapshots from existing ones with files excluded (or
// only some included), with new metadata or an added summary, as restic's
// rewrite does. It holds a shared lock, an exclusive one with Forget, and
// none for a dry run. A snapshot it fails on ends it with a
// *SnapshotError.
func (e *Repository) Rewrite(ctx context.Context, opts RewriteOptions) (*RewriteResult, error) {
	switch {
	case len(opts.Excludes) > 0 && len(opts.Includes) > 0:
		return nil, errors.New("rewrite: exclude and include patterns are mutually exclusive")
	case len(opts.Excludes) == 0 && len(opts.Includes) == 0 && opts.Metadata == nil && !opts.SnapshotSummary:
		return nil, errors.New("rewrite: nothing to do: no excludes, includes or new metadata")
	}
	mode := SharedLock
	if opts.Forget {
		mode = ExclusiveLock
	}
	tree := rewriteTree(opts)
	return e.replaceSnapshots(ctx, mode, opts.Snapshots, opts.DryRun, opts.Write, opts.Events,
		func(ctx context.Context, w *repo.Writer, sn *model.Snapshot, ev rewriter.ReplaceEvents) (bool, error) {
			return rewriter.Replace(ctx, e.r, w, sn, tree(), rewriter.ReplaceOptions{
				DryRun:            opts.DryRun,
				Forget:            opts.Forget,
				Metadata:          opts.Metadata,
				AddTag:            "rewrite",
				KeepEmptySnapshot: len(opts.Includes) > 0,
			}, ev)
		})
}

// rewriteTree returns a maker of the tree function of one snapshot's
// rewrite: the tree as it is when only metadata changes, otherwise the
// filtered tree with the summary's file and byte counts updated.
func rewriteTree(opts RewriteOptions) func() rewriter.TreeFunc {
	if len(opts.Includes) == 0 && len(opts.Excludes) == 0 && !opts.SnapshotSummary {
		return func() rewriter.TreeFunc {
			return func(_ context.Context, sn *model.Snapshot, _ rewriter.BlobLoader, _ rewriter.BlobSaver) (model.ID, *model.SnapshotSummary, error) {
				return *sn.Tree, nil, nil
			}
		}
	}
	var node rewriter.NodeFunc
	var keepEmpty rewriter.KeepEmptyFunc
	if len(opts.Includes) > 0 {
		node, keepEmpty = rewriter.IncludeNodes(opts.Includes, orNop(opts.Included), orNop(opts.IncludedDir))
	} else {
		node = rewriter.ExcludeNodes(opts.Excludes, orNop(opts.Excluded))
	}
	return func() rewriter.TreeFunc {
		rw, size := rewriter.NewCounting(node, keepEmpty)
		return func(ctx context.Context, sn *model.Snapshot, loader rewriter.BlobLoader, saver rewriter.BlobSaver) (model.ID, *model.SnapshotSummary, error) {
			id, err := rw.RewriteTree(ctx, loader, saver, "/", *sn.Tree)
			if err != nil {
				return model.ID{}, nil, err
			}
			summary := &model.SnapshotSummary{}
			if sn.Summary != nil {
				*summary = *sn.Summary
			}
			s := size()
			summary.TotalFilesProcessed = s.Files
			summary.TotalBytesProcessed = s.Bytes
			return id, summary, nil
		}
	}
}

func orNop(f func(string)) func(string) {
	if f == nil {
		return func(string) {}
	}
	return f
}

// RepairSnapshotsOptions tune RepairSnapshots.
type RepairSnapshotsOptions struct {
	// Snapshots chooses the snapshots to repair.
	Snapshots SnapshotSelection
	// Forget removes each damaged snapshot once its repaired copy is
	// saved; without it the copy gets the tag "repaired" and the
	// original stays.
	Forget bool
	// DryRun reports what would be repaired but stores nothing.
	DryRun bool
	// Write tunes the writer of the repaired trees.
	Write repo.WriteOptions
	// Events receives what happens, snapshot by snapshot; Repair what is
	// changed inside each snapshot's trees.
	Events ReplaceEvents
	Repair rewriter.RepairEvents
}

// RepairSnapshots repairs snapshots whose data is damaged, as restic's
// repair snapshots does: files lose the content blobs the index does not
// have (and get their size fixed), directories whose tree cannot be read
// become empty, nodes of invalid types are dropped, and a snapshot whose
// root tree is unreadable is removed. It holds an exclusive lock (none
// for a dry run). Run RepairIndex first when the index may be damaged.
func (e *Repository) RepairSnapshots(ctx context.Context, opts RepairSnapshotsOptions) (*RewriteResult, error) {
	var rw *rewriter.Rewriter // made once the index is loaded, shared by all snapshots
	return e.replaceSnapshots(ctx, ExclusiveLock, opts.Snapshots, opts.DryRun, opts.Write, opts.Events,
		func(ctx context.Context, w *repo.Writer, sn *model.Snapshot, ev rewriter.ReplaceEvents) (bool, error) {
			if rw == nil {
				rw = rewriter.NewRepairer(e.r.Index(), opts.Repair)
			}
			tree := func(ctx context.Context, sn *model.Snapshot, loader rewriter.BlobLoader, saver rewriter.BlobSaver) (model.ID, *model.SnapshotSummary, error) {
				id, err := rw.RewriteTree(ctx, loader, saver, "/", *sn.Tree)
				return id, nil, err
			}
			return rewriter.Replace(ctx, e.r, w, sn, tree, rewriter.ReplaceOptions{
				DryRun: opts.DryRun,
				Forget: opts.Forget,
				AddTag: "repaired",
			}, ev)
		})
}

// replaceFunc replaces one snapshot (w is nil in a dry run) and reports
// whether it changed.
type replaceFunc func(ctx context.Context, w *repo.Writer, sn *model.Snapshot, ev rewriter.ReplaceEvents) (bool, error)

// replaceSnapshots runs replace on every selected snapshot under a lock of
// the given mode (none for a dry run).
func (e *Repository) replaceSnapshots(ctx context.Context, mode LockMode, sel SnapshotSelection, dryRun bool, wopts repo.WriteOptions, ev ReplaceEvents, replace replaceFunc) (*RewriteResult, error) {
	if dryRun {
		mode = NoLock
	}
	res := &RewriteResult{}
	err := e.withLock(ctx, mode, func(ctx context.Context) error {
		if err := e.LoadIndex(ctx); err != nil {
			return err
		}
		snaps, err := e.choose(ctx, sel)
		if err != nil {
			return err
		}
		var w *repo.Writer
		if !dryRun {
			if w, err = e.r.NewWriter(ctx, wopts); err != nil {
				return err
			}
		}
		for _, sn := range snaps {
			if ev.Snapshot != nil {
				if err := ev.Snapshot(sn); err != nil {
					return &SnapshotError{Snapshot: sn.ID, Err: err}
				}
			}
			changed, err := replace(ctx, w, sn, ev.Replace)
			if err != nil {
				return &SnapshotError{Snapshot: sn.ID, Err: err}
			}
			if changed {
				res.Changed = append(res.Changed, sn.ID)
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
