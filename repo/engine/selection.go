package engine

import (
	"context"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// SnapshotSelection chooses the snapshots an operation that changes
// snapshots (Tag, Rewrite, RepairSnapshots, ForgetSnapshots) works on. The
// snapshots are loaded under the operation's lock, so the choice sees the
// repository as the operation does.
type SnapshotSelection struct {
	// Names are snapshot IDs, unique ID prefixes or "latest" (the newest
	// snapshot matching Filter); a name that matches nothing fails the
	// operation with ErrNoSnapshot. Without names, every snapshot that
	// matches Filter is chosen.
	Names  []string
	Filter repo.SnapshotFilter
	// Choose, when set, replaces Names and Filter: it receives every
	// snapshot that could be loaded, oldest first, and returns the ones
	// to work on (for a program with its own rules and messages, such as
	// arca's command line).
	Choose func(all []*model.Snapshot) ([]*model.Snapshot, error)
	// LoadError is told about each snapshot file that cannot be read;
	// such snapshots are skipped.
	LoadError func(id model.ID, err error)
}

// choose loads the repository's snapshots and returns the selected ones.
func (e *Repository) choose(ctx context.Context, sel SnapshotSelection) ([]*model.Snapshot, error) {
	all, err := e.r.Snapshots(ctx, func(id model.ID, err error) error {
		if sel.LoadError != nil {
			sel.LoadError(id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sel.Choose != nil {
		return sel.Choose(all)
	}
	return repo.FilterSnapshots(ctx, e.r, all, sel.Names, sel.Filter)
}
