package index

import (
	"math/rand/v2"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

// BenchmarkIndexLookupFull measures Lookup (which returns the blob's pack
// and position) of present blobs and Has of absent ones (what a backup
// asks for every new chunk) in an index of one million blobs in 10,000 packs.
func BenchmarkIndexLookupFull(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	idx := New()
	var ids []model.ID
	for p := 0; p < 10_000; p++ { // 100 blobs per pack, as a backup writes them
		list := make([]model.Blob, 100)
		for i := range list {
			ids = append(ids, randomID(r))
			list[i] = model.Blob{BlobHandle: model.BlobHandle{ID: ids[len(ids)-1], Type: model.DataBlob}, Length: 1 << 20, Offset: uint(i) << 20}
		}
		idx.AddPack(randomID(r), list)
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
