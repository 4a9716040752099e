package rewriter

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// Metadata replaces a snapshot's host and time; empty fields keep them.
type Metadata struct {
	Hostname string
	Time     *time.Time
}

// ReplaceOptions tune Replace.
type ReplaceOptions struct {
	DryRun bool // compute everything, store and remove nothing
	Forget bool // remove the old snapshot (and add no tag)
	// Metadata, when not nil, sets host and time of the new snapshot.
	Metadata *Metadata
	// AddTag is added to the new snapshot unless Forget is set.
	AddTag string
	// KeepEmptySnapshot leaves a snapshot alone whose tree was dropped
	// entirely; otherwise such a snapshot is removed.
	KeepEmptySnapshot bool
}

// ReplaceEvents report what Replace does, in restic's order; any may be nil.
type ReplaceEvents struct {
	WouldDeleteEmpty func()
	RemovedEmpty     func(old model.ID)
	WouldSave        func()
	WouldRemoveOld   func()
	WouldSetTime     func(t time.Time)
	WouldSetHost     func(host string)
	SetTime          func(t time.Time)
	SetHost          func(host string)
	Saved            func(id model.ID)
	RemovedOld       func(old model.ID)
}

// TreeFunc returns the rewritten root tree of sn (null to drop it) and,
// when the summary is to be updated, the new summary. Trees are read with
// loader, new trees go to saver.
type TreeFunc func(ctx context.Context, sn *model.Snapshot, loader BlobLoader, saver BlobSaver) (model.ID, *model.SnapshotSummary, error)

// Replace rewrites one snapshot as restic's rewrite and repair commands
// do: it runs fn, stores the new trees (w; nil for a dry run), and when
// tree, summary or metadata changed saves a new snapshot that records the
// old one as its original, optionally removing the old one. It reports
// whether the snapshot was (or would be) changed.
func Replace(ctx context.Context, r *repo.Repository, w *repo.Writer, sn *model.Snapshot, fn TreeFunc, opts ReplaceOptions, ev ReplaceEvents) (bool, error) {
	if sn.Tree == nil {
		return false, fmt.Errorf("snapshot %v has nil tree", sn.ID.Str())
	}
	var saver BlobSaver = HashOnly{}
	if !opts.DryRun {
		if w == nil {
			return false, fmt.Errorf("replace snapshot %v: no writer", sn.ID.Str())
		}
		saver = w
	}
	tree, summary, err := fn(ctx, sn, r, saver)
	if err != nil {
		return false, err
	}
	if !opts.DryRun {
		if err := w.Flush(ctx); err != nil {
			return false, err
		}
	}

	if tree.IsNull() {
		if opts.KeepEmptySnapshot {
			return false, nil
		}
		if opts.DryRun {
			call0(ev.WouldDeleteEmpty)
			return true, nil
		}
		if err := removeSnapshot(ctx, r, sn.ID); err != nil {
			return false, err
		}
		call1(ev.RemovedEmpty, sn.ID)
		return true, nil
	}

	sameSummary := summary == nil || (sn.Summary != nil && *summary == *sn.Summary)
	if tree == *sn.Tree && opts.Metadata == nil && sameSummary {
		return false, nil
	}

	md := opts.Metadata
	if md == nil {
		md = &Metadata{}
	}
	if opts.DryRun {
		call0(ev.WouldSave)
		if opts.Forget {
			call0(ev.WouldRemoveOld)
		}
		if md.Time != nil {
			call1(ev.WouldSetTime, *md.Time)
		}
		if md.Hostname != "" {
			call1(ev.WouldSetHost, md.Hostname)
		}
		return true, nil
	}

	ns := *sn
	old := sn.ID
	ns.Original = &old
	ns.Tree = &tree
	if summary != nil {
		ns.Summary = summary
	}
	ns.Tags = slices.Clone(sn.Tags)
	if !opts.Forget && !slices.Contains(ns.Tags, opts.AddTag) {
		ns.Tags = append(ns.Tags, opts.AddTag)
	}
	if md.Time != nil {
		call1(ev.SetTime, *md.Time)
		ns.Time = *md.Time
	}
	if md.Hostname != "" {
		call1(ev.SetHost, md.Hostname)
		ns.Hostname = md.Hostname
	}
	id, err := r.SaveSnapshot(ctx, &ns)
	if err != nil {
		return false, err
	}
	call1(ev.Saved, id)
	if opts.Forget {
		if err := removeSnapshot(ctx, r, old); err != nil {
			return false, err
		}
		call1(ev.RemovedOld, old)
	}
	return true, nil
}

func removeSnapshot(ctx context.Context, r *repo.Repository, id model.ID) error {
	if err := r.Backend().Remove(ctx, backend.Handle{Type: backend.SnapshotFile, Name: id.String()}); err != nil {
		return fmt.Errorf("remove snapshot %v: %w", id.Str(), err)
	}
	return nil
}

func call0(f func()) {
	if f != nil {
		f()
	}
}

func call1[T any](f func(T), v T) {
	if f != nil {
		f(v)
	}
}
