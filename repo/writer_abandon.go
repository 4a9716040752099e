package repo

import (
	"context"
	"errors"
)

// errAbandoned stops the uploads of an abandoned writer.
var errAbandoned = errors.New("writer abandoned")

// Abandon ends a writer whose work was cancelled or failed, keeping what it
// already stored: it stops the uploads still running, waits for them, and
// writes one index file for the packs that were stored but not yet named
// by an index file, so that the next backup (in this process or another)
// reuses their blobs instead of uploading them again. The packs in memory
// are dropped. ctx bounds that last write; it must not be the cancelled
// context of the operation. No SaveBlob may run during or after Abandon.
func (w *Writer) Abandon(ctx context.Context) error {
	w.fail(errAbandoned)
	w.uploads.Wait()
	return w.writeBatch(ctx)
}
