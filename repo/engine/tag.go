package engine

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/tags"
)

// TagOptions tune TagSnapshots.
type TagOptions struct {
	// Snapshots chooses the snapshots whose tags change.
	Snapshots SnapshotSelection
	// Edit sets, adds or removes tags.
	Edit tags.Edit
	// Changed is told about each snapshot stored anew with its new tags.
	Changed func(old, changed *model.Snapshot)
	// Failed is told about a snapshot whose tags could not be changed;
	// it is skipped. Nil: the first failure ends TagSnapshots.
	Failed func(sn *model.Snapshot, err error)
}

// TagSnapshots changes the tags of the chosen snapshots, under an
// exclusive lock, and returns how many changed. A changed snapshot is
// stored anew (its ID changes; the new file records the first ID in
// Original); one whose tags stay the same is left alone.
func (e *Repository) TagSnapshots(ctx context.Context, opts TagOptions) (int, error) {
	changed := 0
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		list, err := e.choose(ctx, opts.Snapshots)
		if err != nil {
			return err
		}
		for _, sn := range list {
			if err := ctx.Err(); err != nil {
				return err
			}
			next, err := tags.Rewrite(ctx, e.r, sn, opts.Edit)
			if err != nil {
				if opts.Failed == nil || ctx.Err() != nil {
					return fmt.Errorf("tag snapshot %s: %w", sn.ID.Str(), err)
				}
				opts.Failed(sn, err)
				continue
			}
			if next == nil {
				continue
			}
			changed++
			if opts.Changed != nil {
				opts.Changed(sn, next)
			}
		}
		return nil
	})
	return changed, err
}
