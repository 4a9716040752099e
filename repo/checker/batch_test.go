package checker

import (
	"slices"
	"testing"

	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// TestPackBatches: batches keep the packs' order, hold every pack once,
// and stay within packBatch packs and the blob limit unless a single pack
// exceeds it.
func TestPackBatches(t *testing.T) {
	idx := index.New()
	var packs []model.ID
	counts := []int{5000, 5000, 5000, 5000, 40000, 1, 1, 16384, 0, 3}
	for i := range packBatch + 10 {
		counts = append(counts, i%3)
	}
	total := 0
	for i, n := range counts {
		pack := model.Hash([]byte{byte(i), byte(i >> 8), 'p'})
		packs = append(packs, pack)
		var blobs []model.Blob
		for j := range n {
			blobs = append(blobs, model.Blob{BlobHandle: model.BlobHandle{ID: model.Hash([]byte{byte(i), byte(i >> 8), byte(j), byte(j >> 8), byte(j >> 16)}), Type: model.DataBlob}, Length: 100, Offset: uint(100 * j)})
		}
		idx.AddPack(pack, blobs)
		total += n
	}
	c := &Checker{idx: idx}
	// a pack the index does not know counts no blobs
	unknown := model.Hash([]byte("unknown"))
	packs = append(packs[:3], append([]model.ID{unknown}, packs[3:]...)...)
	counts = append(counts[:3], append([]int{0}, counts[3:]...)...)

	batches := c.packBatches(packs)
	limit := max(blobBatch, total/16)
	if got := slices.Concat(batches...); !slices.Equal(got, packs) {
		t.Fatalf("batches hold %d packs, not the %d given in order", len(got), len(packs))
	}
	at := 0
	for i, b := range batches {
		blobs := 0
		for j := range b {
			blobs += counts[at+j]
		}
		if len(b) == 0 || len(b) > packBatch || (blobs > limit && len(b) > 1) {
			t.Errorf("batch %d: %d packs, %d blobs (limit %d)", i, len(b), blobs, limit)
		}
		// a batch ends only where the next pack would not fit
		if i+1 < len(batches) && len(b) < packBatch && blobs+counts[at+len(b)] <= limit {
			t.Errorf("batch %d ends early: %d blobs, next pack %d", i, blobs, counts[at+len(b)])
		}
		at += len(b)
	}
	if len(batches) < 4 {
		t.Errorf("%d batches", len(batches))
	}
}
