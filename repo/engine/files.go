package engine

import (
	"context"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// ListFiles calls fn with the ID and size of every file of type t in the
// repository (backend.SnapshotFile, PackFile, IndexFile, KeyFile,
// LockFile), in the backend's order, under a shared lock. Listing lock
// files takes no lock, so it works while the repository is locked.
func (e *Repository) ListFiles(ctx context.Context, t backend.FileType, fn func(id model.ID, size int64) error) error {
	mode := e.readLock()
	if t == backend.LockFile {
		mode = NoLock
	}
	return e.withLock(ctx, mode, func(ctx context.Context) error {
		return e.r.List(ctx, t, fn)
	})
}

// ListBlobs calls fn for every blob entry of every index file, under a
// shared lock: a blob listed in several index files is reported once for
// each, as restic's "list blobs" prints them. An index file that cannot
// be read ends the listing with its error.
func (e *Repository) ListBlobs(ctx context.Context, fn func(model.BlobHandle) error) error {
	return e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		return e.r.ForEachIndexFile(ctx, nil, func(_ model.ID, f *index.File, err error) error {
			if err != nil {
				return err
			}
			for _, p := range f.Packs {
				for _, b := range p.Blobs {
					if err := fn(model.BlobHandle{ID: b.ID, Type: b.Type}); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
}
