package index

import (
	"math/rand/v2"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

// BenchmarkIndexLookupFull measures Lookup (which returns the blob's pack
// and position) of present blobs and Has of absent ones (what a backup
// asks for every new chunk) in an index of one million blobs.
func BenchmarkIndexLookupFull(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	idx := New()
	ids := make([]model.ID, 1_000_000)
	for i := range ids {
		ids[i] = randomID(r)
		idx.Add(model.ID{byte(i % 7)}, model.Blob{BlobHandle: model.BlobHandle{ID: ids[i], Type: model.DataBlob}, Length: 100})
	}
	b.Run("present", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if len(idx.Lookup(model.BlobHandle{ID: ids[i%len(ids)], Type: model.DataBlob})) != 1 {
				b.Fatal("missing")
			}
			i++
		}
	})
	b.Run("absent", func(b *testing.B) {
		absent := make([]model.ID, 1<<16)
		for i := range absent {
			absent[i] = randomID(r)
		}
		i := 0
		for b.Loop() {
			if idx.Has(model.BlobHandle{ID: absent[i%len(absent)], Type: model.DataBlob}) {
				b.Fatal("found an absent blob")
			}
			i++
		}
	})
}
