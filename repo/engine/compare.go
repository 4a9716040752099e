package engine

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/diff"
	"github.com/arca-backup/arca/repo/stats"
)

// Diff compares two snapshots (IDs, prefixes or "latest") under a shared
// lock: opts.OnChange receives every added ("+"), removed ("-") or changed
// ("M", "T", "U" with opts.Metadata) item, and the result counts the
// files, directories and blobs only one side has.
func (e *Repository) Diff(ctx context.Context, from, to string, opts diff.Options) (diff.Result, error) {
	var res diff.Result
	err := e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		a, err := e.findSnapshot(ctx, from, repo.SnapshotFilter{})
		if err != nil {
			return err
		}
		b, err := e.findSnapshot(ctx, to, repo.SnapshotFilter{})
		if err != nil {
			return err
		}
		if err := e.r.LoadIndex(ctx, nil); err != nil {
			return err
		}
		res, err = diff.Trees(ctx, diff.NewRepoSource(e.r), *a.Tree, *b.Tree, opts)
		if err != nil {
			return fmt.Errorf("diff %s %s: %w", a.ID.Str(), b.ID.Str(), err)
		}
		return nil
	})
	return res, err
}

// Stats counts the size of the snapshots that match filter (all with the
// zero filter) in one of restic's modes (stats.RestoreSize when ""), under
// a shared lock.
func (e *Repository) Stats(ctx context.Context, filter repo.SnapshotFilter, mode stats.Mode) (stats.Result, error) {
	var res stats.Result
	err := e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		all, err := e.r.Snapshots(ctx, nil)
		if err != nil {
			return err
		}
		if err := e.r.LoadIndex(ctx, nil); err != nil {
			return err
		}
		c, err := stats.NewCounter(stats.NewRepoSource(e.r), stats.Options{Mode: mode, RepoVersion: int(e.r.Config().Version)})
		if err != nil {
			return err
		}
		for _, sn := range all {
			if !filter.Matches(sn) {
				continue
			}
			if err := c.AddSnapshot(ctx, *sn.Tree); err != nil {
				return fmt.Errorf("stats of snapshot %s: %w", sn.ID.Str(), err)
			}
		}
		res, err = c.Result()
		return err
	})
	return res, err
}
