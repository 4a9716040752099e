// Package tags changes the tags of stored snapshots, as restic's tag
// command does. A snapshot file cannot be edited in place (its name is the
// hash of its contents), so a changed snapshot is written as a new file
// that records the first ID it ever had in "original", and the old file
// is removed.
package tags

import (
	"context"
	"fmt"
	"slices"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// Edit is a change of tags: Set replaces all tags (when not empty; a
// single empty tag clears them); otherwise Add appends missing tags and
// Remove drops present ones.
type Edit struct {
	Set, Add, Remove []string
}

// Apply changes the tags of sn in memory and reports whether the snapshot
// must be rewritten. Setting tags always counts as a change, even to the
// same tags (restic rewrites the snapshot then too). Removing a tag moves
// the last tag into its place, as restic does.
func (e Edit) Apply(sn *model.Snapshot) bool {
	if len(e.Set) > 0 {
		sn.Tags = slices.Clone(e.Set)
		if len(e.Set) == 1 && e.Set[0] == "" {
			sn.Tags = nil // a single empty tag means no tags
		}
		return true
	}
	changed := false
	for _, t := range e.Add {
		if !slices.Contains(sn.Tags, t) {
			sn.Tags = append(sn.Tags, t)
			changed = true
		}
	}
	for _, t := range e.Remove {
		if i := slices.Index(sn.Tags, t); i >= 0 {
			last := len(sn.Tags) - 1
			sn.Tags[i] = sn.Tags[last]
			sn.Tags = sn.Tags[:last]
			changed = true
		}
	}
	return changed
}

// Rewrite applies e to a copy of sn and, when that changes it, saves the
// copy as a new snapshot (with Original set to sn's ID unless it already
// names one) and removes sn's file. It returns the new snapshot, or nil
// when nothing changed.
func Rewrite(ctx context.Context, r *repo.Repository, sn *model.Snapshot, e Edit) (*model.Snapshot, error) {
	next := *sn
	next.Tags = slices.Clone(sn.Tags)
	if !e.Apply(&next) {
		return nil, nil
	}
	if next.Original == nil {
		old := sn.ID
		next.Original = &old
	}
	if _, err := r.SaveSnapshot(ctx, &next); err != nil {
		return nil, fmt.Errorf("save new snapshot for %s: %w", sn.ID.Str(), err)
	}
	if err := r.RemoveSnapshotFile(ctx, sn.ID); err != nil {
		return nil, err
	}
	return &next, nil
}
