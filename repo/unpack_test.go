package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
)

// Snapshot files truncated below the size of IV and MAC are damaged, not a
// crash, also when the local backend reads them into a buffer of exactly
// their size.
func TestLoadTruncatedUnpackedFile(t *testing.T) {
	ctx := context.Background()
	r, dir := wtLocalRepo(t)
	for _, size := range []int{0, 1, 15, 16, 31, 32} {
		content := make([]byte, size)
		id := model.Hash(content) // named by its hash, so it reaches decryption
		name := filepath.Join(dir, "snapshots", id.String())
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := r.LoadUnpacked(ctx, backend.SnapshotFile, id)
		if err == nil {
			t.Fatalf("%d-byte snapshot file loaded", size)
		}
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("%d-byte snapshot file: %v, want damaged", size, err)
		}
	}
}
