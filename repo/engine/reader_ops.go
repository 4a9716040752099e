package engine

import (
	"context"

	"github.com/arca-backup/arca/repo/diff"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/stats"
)

// Diff compares the trees before and after (snapshot roots, or subtrees
// found with Subtree): opts.OnChange receives every added ("+"), removed
// ("-") or changed ("M", "T", "U" with opts.Metadata) item in restic's
// order, and the result counts what only one side has.
func (rd *Reader) Diff(ctx context.Context, before, after model.ID, opts diff.Options) (diff.Result, error) {
	if err := rd.e.LoadIndex(ctx); err != nil {
		return diff.Result{}, err
	}
	return diff.Trees(ctx, diff.NewRepoSource(rd.e.r), before, after, opts)
}

// StatsOptions tune Reader.Stats.
type StatsOptions struct {
	// Mode is one of restic's counting modes (stats.RestoreSize when "").
	Mode stats.Mode
	// Progress, when set, counts snapshots, files, blobs and bytes as
	// they are processed; a program may read it (Progress.State) from
	// another goroutine while Stats runs.
	Progress *stats.Progress
}

// Stats counts the size of the snapshots given (in the order given). A
// snapshot whose trees cannot be walked ends the count with a
// *SnapshotError.
func (rd *Reader) Stats(ctx context.Context, snapshots []*model.Snapshot, opts StatsOptions) (stats.Result, error) {
	r := rd.e.r
	if err := rd.e.LoadIndex(ctx); err != nil {
		return stats.Result{}, err
	}
	c, err := stats.NewCounter(stats.NewRepoSource(r), stats.Options{
		Mode:        opts.Mode,
		RepoVersion: int(r.Config().Version),
		Progress:    opts.Progress,
	})
	if err != nil {
		return stats.Result{}, err
	}
	for _, sn := range snapshots {
		if err := c.AddSnapshot(ctx, *sn.Tree); err != nil {
			return stats.Result{}, &SnapshotError{Snapshot: sn.ID, Err: err}
		}
	}
	if err := ctx.Err(); err != nil {
		return stats.Result{}, err
	}
	return c.Result()
}
