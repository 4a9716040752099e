package repo

import (
	"context"
	"fmt"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
)

// RemoveSnapshotFile deletes one snapshot file. The data it references is
// left alone (that is prune's job).
func (r *Repository) RemoveSnapshotFile(ctx context.Context, id model.ID) error {
	if err := r.be.Remove(ctx, backend.Handle{Type: backend.SnapshotFile, Name: id.String()}); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", id.Str(), err)
	}
	return nil
}

// RemoveSnapshotFiles deletes snapshot files in parallel (as many at a time
// as the backend has connections). Each outcome is passed to report, which
// may be called from several goroutines at once; when report returns an
// error, removal stops and that error is returned. A failed removal whose
// report returns nil does not stop the others.
func (r *Repository) RemoveSnapshotFiles(ctx context.Context, ids []model.ID, report func(id model.ID, err error) error) error {
	workers := int(r.be.Properties().Connections)
	return forEachParallel(ctx, workers, ids, func(ctx context.Context, id model.ID) error {
		return report(id, r.RemoveSnapshotFile(ctx, id))
	})
}
