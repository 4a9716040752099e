package engine

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/diff"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/stats"
)

// Diff compares two snapshots (IDs, prefixes or "latest") under a shared
// lock: opts.OnChange receives every added ("+"), removed ("-") or changed
// ("M", "T", "U" with opts.Metadata) item, and the result counts the
// files, directories and blobs only one side has.
func (e *Repository) Diff(ctx context.Context, from, to string, opts diff.Options) (diff.Result, error) {
	var res diff.Result
	err := e.Read(ctx, func(ctx context.Context, rd *Reader) error {
		a, err := e.findSnapshot(ctx, from, repo.SnapshotFilter{})
		if err != nil {
			return err
		}
		b, err := e.findSnapshot(ctx, to, repo.SnapshotFilter{})
		if err != nil {
			return err
		}
		res, err = rd.Diff(ctx, *a.Tree, *b.Tree, opts)
		if err != nil {
			return fmt.Errorf("diff %s %s: %w", a.ID.Str(), b.ID.Str(), err)
		}
		return nil
	})
	return res, err
}

// Stats counts the size of the snapshots that match filter (all with the
// zero filter) in one of restic's modes (stats.RestoreSize when ""), under
// a shared lock. A snapshot that cannot be walked gives a *SnapshotError.
func (e *Repository) Stats(ctx context.Context, filter repo.SnapshotFilter, mode stats.Mode) (stats.Result, error) {
	var res stats.Result
	err := e.Read(ctx, func(ctx context.Context, rd *Reader) error {
		all, err := rd.Snapshots(ctx, nil)
		if err != nil {
			return err
		}
		var selected []*model.Snapshot
		for _, sn := range all {
			if filter.Matches(sn) {
				selected = append(selected, sn)
			}
		}
		res, err = rd.Stats(ctx, selected, StatsOptions{Mode: mode})
		return err
	})
	return res, err
}
