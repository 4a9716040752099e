package repo

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
)

// TestWriterCopyStored: with StoreDuplicates, SaveBlob stores a blob the
// index already has, and SaveStoredBlob copies a stored (sealed,
// compressed) blob into a new pack unchanged; every copy loads back.
func TestWriterCopyStored(t *testing.T) {
	ctx := context.Background()
	r := wtMemRepo(t, 2, nil)
	data := bytes.Repeat([]byte("compressible prune data "), 1000)
	w, err := r.NewWriter(ctx, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _, _, err := w.SaveBlob(ctx, model.DataBlob, data, model.ID{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	h := model.BlobHandle{ID: id, Type: model.DataBlob}
	orig := r.Index().Lookup(h)
	if len(orig) != 1 || !orig[0].IsCompressed() {
		t.Fatalf("first copy: %+v", orig)
	}
	stored := make([]byte, orig[0].Length)
	err = r.Backend().Load(ctx, backend.Handle{Type: backend.PackFile, Name: orig[0].PackID.String()}, len(stored), int64(orig[0].Offset), func(rd io.Reader) error {
		_, err := io.ReadFull(rd, stored)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// without StoreDuplicates the known blob is skipped
	w2, err := r.NewWriter(ctx, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if known, err := w2.SaveStoredBlob(ctx, model.DataBlob, id, stored, int(orig[0].UncompressedLength)); err != nil || !known {
		t.Fatalf("SaveStoredBlob of a known blob: known=%v err=%v", known, err)
	}
	if err := w2.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	w3, err := r.NewWriter(ctx, WriteOptions{StoreDuplicates: true})
	if err != nil {
		t.Fatal(err)
	}
	if known, err := w3.SaveStoredBlob(ctx, model.DataBlob, id, stored, int(orig[0].UncompressedLength)); err != nil || known {
		t.Fatalf("SaveStoredBlob: known=%v err=%v", known, err)
	}
	if !w3.Compresses(model.DataBlob) {
		t.Error("auto compression does not compress data blobs")
	}
	if err := w3.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	copies := r.Index().Lookup(h)
	if len(copies) != 2 || copies[0].PackID == copies[1].PackID {
		t.Fatalf("want two copies in two packs, got %+v", copies)
	}
	for _, c := range copies {
		if c.Length != orig[0].Length || c.UncompressedLength != orig[0].UncompressedLength {
			t.Errorf("copy %+v differs from the original %+v", c, orig[0])
		}
		got, err := r.loadPackedBlob(ctx, c, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("copy in pack %v: %v", c.PackID.Str(), err)
		}
	}
}
