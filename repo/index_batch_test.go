package repo

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/repo/model"
)

// Two writers of one repository: the second skips a blob the first has
// stored but not yet named in an index file. The second writer's Flush
// must write an index file naming that blob's pack, or a snapshot saved
// after it would reference a blob no index file knows (lost if the first
// writer never gets to write its index).
func TestFlushIndexesPacksOfOtherWriters(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := wtMemRepo(t, 2, be)

	first, err := r.NewWriter(ctx, WriteOptions{PackSize: 64 << 10, Compression: CompressionOff})
	if err != nil {
		t.Fatal(err)
	}
	// the first writer would write its index only much later
	first.indexMaxBlobs, first.indexMaxBytes, first.indexMaxAge = 1<<30, 1<<30, time.Hour
	blob := make([]byte, 100<<10) // fills a pack, which is uploaded at once
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	id, _, _, err := first.SaveBlob(ctx, model.DataBlob, blob, model.ID{})
	if err != nil {
		t.Fatal(err)
	}
	h := model.BlobHandle{ID: id, Type: model.DataBlob}
	deadline := time.Now().Add(10 * time.Second)
	for !r.Index().Has(h) {
		if time.Now().After(deadline) {
			t.Fatal("the first writer's pack was not stored")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(first.IndexFiles()); n != 0 {
		t.Fatalf("first writer wrote %d index files early", n)
	}

	second, err := r.NewWriter(ctx, WriteOptions{PackSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, known, _, err := second.SaveBlob(ctx, model.DataBlob, blob, model.ID{}); err != nil || !known {
		t.Fatalf("second writer: known=%v, %v", known, err)
	}
	if err := second.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(second.IndexFiles()); n != 1 {
		t.Fatalf("second writer wrote %d index files, want 1", n)
	}

	// a new reader of the repository finds the blob through index files
	// alone, before the first writer flushes
	other := wtOpen(t, be)
	if err := other.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if !other.Index().Has(h) {
		t.Fatal("the blob the second writer skipped is in no index file")
	}

	// the first writer's Flush then has nothing left to index
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(first.IndexFiles()); n != 0 {
		t.Fatalf("first writer wrote %d index files for packs already indexed", n)
	}
}
