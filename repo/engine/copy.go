package engine

import (
	"context"
	"errors"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/copier"
	"github.com/arca-backup/arca/repo/model"
)

// CopyOptions tune Copy.
type CopyOptions struct {
	// Filter selects the snapshots to copy when none are named, and
	// chooses "latest".
	Filter repo.SnapshotFilter
	// Write tunes the destination's pack writer.
	Write repo.WriteOptions
	// Events receives progress (see copier.Events).
	Events copier.Events
	// Ignored, when set, is told about a snapshot name that matches
	// nothing, which is then skipped; nil: such a name fails Copy.
	Ignored func(name string, err error)
	// LoadError is told about snapshot files (of either repository)
	// that cannot be read; they are skipped.
	LoadError func(id model.ID, err error)
	// Skipped, when set, is told about each source snapshot the
	// destination already has a copy of, before copying starts.
	Skipped func(copier.Skip)
}

// CopyResult says what Copy did.
type CopyResult struct {
	// Copied maps each copied source snapshot's ID to its copy's ID.
	Copied map[model.ID]model.ID
	// Skipped are source snapshots the destination already had.
	Skipped []copier.Skip
}

// Copy copies snapshots from this repository to dst: the ones named (IDs,
// prefixes, "latest"), or all that match opts.Filter when none are. Both
// repositories are locked (shared) while it runs; snapshots dst already
// holds a copy of are skipped, so Copy may be repeated.
func (e *Repository) Copy(ctx context.Context, dst *Repository, snapshots []string, opts CopyOptions) (*CopyResult, error) {
	if dst == e {
		return nil, errors.New("copy: source and destination are the same repository")
	}
	res := &CopyResult{Copied: map[model.ID]model.ID{}}
	err := e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		return dst.withLock(ctx, SharedLock, func(ctx context.Context) error {
			onLoadError := func(id model.ID, err error) error {
				if opts.LoadError != nil {
					opts.LoadError(id, err)
				}
				return nil
			}
			srcAll, err := e.r.Snapshots(ctx, onLoadError)
			if err != nil {
				return err
			}
			dstAll, err := dst.r.Snapshots(ctx, onLoadError)
			if err != nil {
				return err
			}
			var selected []*model.Snapshot
			if len(snapshots) == 0 {
				selected, _ = repo.FilterSnapshots(ctx, e.r, srcAll, nil, opts.Filter)
			}
			for _, name := range snapshots {
				sel, err := repo.FindSnapshot(ctx, e.r, srcAll, name, opts.Filter)
				if err != nil && opts.Ignored != nil && ctx.Err() == nil {
					opts.Ignored(name, err)
					continue
				}
				if err != nil {
					return err
				}
				selected = append(selected, sel.Snapshot)
			}
			if err := e.LoadIndex(ctx); err != nil {
				return err
			}
			if err := dst.LoadIndex(ctx); err != nil {
				return err
			}
			dstFiltered, _ := repo.FilterSnapshots(ctx, dst.r, dstAll, nil, opts.Filter)
			pending, skipped := copier.Pending(selected, dstFiltered)
			res.Skipped = skipped
			if opts.Skipped != nil {
				for _, s := range skipped {
					opts.Skipped(s)
				}
			}
			ev := opts.Events
			saved := ev.Saved
			ev.Saved = func(src *model.Snapshot, newID model.ID) {
				res.Copied[src.ID] = newID
				if saved != nil {
					saved(src, newID)
				}
			}
			return copier.Run(ctx, e.r, dst.r, pending, copier.Options{Write: opts.Write}, ev)
		})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
