package repo

import (
	"bytes"
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

// Unpacked files are compressed as restic compresses them: a zstd frame
// without the content checksum, which the file's MAC makes redundant (it
// would add four bytes to every snapshot, index and lock file).
func TestSavedUnpackedFrameHasNoChecksum(t *testing.T) {
	ctx := context.Background()
	r, _ := wtLocalRepo(t)
	want := []byte(`{"time":"2026-12-04T16:07:12.839353601Z","paths":["/src"],"hostname":"vm"}`)
	id, err := r.SaveUnpacked(ctx, backend.SnapshotFile, want)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.LoadRaw(ctx, backend.SnapshotFile, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := r.Key().Open(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	// version 2: a 2 byte, then the frame: magic, then the frame header
	// descriptor, whose bit 2 is Content_Checksum_flag
	if len(plain) < 6 || plain[0] != 2 || !bytes.Equal(plain[1:5], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("plaintext % x does not start with 2 and a zstd frame", plain[:min(len(plain), 6)])
	}
	if plain[5]&0x04 != 0 {
		t.Errorf("frame header descriptor %#x has the content checksum flag", plain[5])
	}
	got, err := r.LoadUnpacked(ctx, backend.SnapshotFile, id)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("reload: %v, %q", err, got)
	}
}
