package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
)

// Snapshot files truncated below the size of IV and MAC are damaged, not a
// crash, also when the local backend reads them into a buffer of exactly
// their size.
func TestLoadTruncatedUnpackedFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	r, err := Create(ctx, be, wtPassword, CreateOptions{Version: 2, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
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
