package repo

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// indexBatch holds the packs that this process stored but that no index
// file names yet. It belongs to the Repository, not to one Writer: a
// writer skips a blob that another writer of the same repository already
// stored, so before its snapshot is saved an index file must name that
// blob's pack too, whichever writer stored it. Every Writer's Flush
// therefore writes the whole batch.
type indexBatch struct {
	mu    sync.Mutex
	packs []index.PackJSON
	blobs int
	bytes int
	since time.Time // when the oldest pack in the batch was added
}

// add appends a stored pack of size bytes (its estimated share of an index
// file) to the batch. The caller holds b.mu.
func (b *indexBatch) add(pj index.PackJSON, size int) {
	if len(b.packs) == 0 {
		b.since = time.Now()
	}
	b.packs = append(b.packs, pj)
	b.blobs += len(pj.Blobs)
	b.bytes += size
}

// indexPiece is how much of an index file's JSON is encoded at a time.
const indexPiece = 64 << 10

// write saves the batch as one index file and empties it; it returns the
// file's ID, or false when the batch was empty. After a failed write the
// batch keeps its packs for the next attempt. The caller holds b.mu.
func (b *indexBatch) write(ctx context.Context, r *Repository) (id model.ID, written bool, err error) {
	if len(b.packs) == 0 {
		return id, false, nil
	}
	f := index.File{Packs: b.packs}
	saved, err := r.SaveUnpackedFrom(ctx, backend.IndexFile, b.bytes, func(w io.Writer) error {
		return f.EncodeTo(w, indexPiece)
	})
	if err != nil {
		return id, false, fmt.Errorf("save index: %w", err)
	}
	b.packs, b.blobs, b.bytes = nil, 0, 0
	return saved, true, nil
}
