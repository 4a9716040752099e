package archiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo/model"
)

// TestBlockHashes: the chunks of a block with several get their SHA-256
// as ID and their CRC-32C, except all-zero chunks of the minimum size; a
// block with one chunk leaves its ID to the saver.
func TestBlockHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	block := make([]byte, 5*chunker.MinSize+777)
	for i := range block {
		block[i] = byte(rng.Uint32())
	}
	clear(block[chunker.MinSize : 2*chunker.MinSize]) // a sparse region
	cuts := []int{chunker.MinSize, 2 * chunker.MinSize, 3*chunker.MinSize + 100, 3*chunker.MinSize + 101, 5 * chunker.MinSize, len(block)}
	var h blockHashes
	for round := range 2 { // the second reuses the slices
		ids, crcs := h.of(block, cuts)
		if len(ids) != len(cuts) || len(crcs) != len(cuts) {
			t.Fatalf("round %d: %d IDs and %d CRCs for %d chunks", round, len(ids), len(crcs), len(cuts))
		}
		from := 0
		for i, c := range cuts {
			want := model.ID(sha256.Sum256(block[from:c]))
			if i == 1 {
				want = model.ID{} // the zero chunk
			}
			if ids[i] != want {
				t.Fatalf("round %d, chunk %d [%d:%d]: ID %v, want %v", round, i, from, c, ids[i].Str(), want.Str())
			}
			wantCRC := crc32.Checksum(block[from:c], crc32.MakeTable(crc32.Castagnoli))
			if i == 1 {
				wantCRC = 0
			}
			if crcs[i] != wantCRC {
				t.Fatalf("round %d, chunk %d: CRC-32C %08x, want %08x", round, i, crcs[i], wantCRC)
			}
			from = c
		}
	}
	if ids, _ := h.of(block[:1000], []int{1000}); len(ids) != 1 || !ids[0].IsNull() {
		t.Fatalf("single chunk: IDs %v, want one null ID", ids)
	}
}

// TestChunkChangedAfterHashing: a saver stores a chunk that its reader
// hashed only while its bytes are those that were hashed. A chunk changed
// in between (here by the test, standing for a memory fault or a bug in
// the slab's bookkeeping) is not stored, under its ID or any other, and
// its file fails with the corruption error; the unchanged chunk beside it
// is stored.
func TestChunkChangedAfterHashing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	block := make([]byte, 3*chunker.MinSize)
	for i := range block {
		block[i] = byte(rng.Uint32())
	}
	cuts := []int{chunker.MinSize + 10, len(block)}
	m := newMemRepo()
	a, err := New(m, m, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	var h blockHashes
	ids, crcs := h.of(block, cuts)
	block[cuts[0]+1000] ^= 0x10 // the second chunk, after hashing

	s := &slab{buf: block}
	state := &fileState{content: make(model.IDs, len(cuts))}
	from := 0
	for i, to := range cuts {
		state.pending++
		s.hold(from, to)
		a.storeChunk(context.Background(), chunkSave{state: state, slab: s, from: from, to: to, pos: i, id: ids[i], crc: crcs[i]})
		from = to
	}
	if !errors.Is(state.err, ErrChunkChanged) {
		t.Fatalf("file error %v, want ErrChunkChanged", state.err)
	}
	if !m.HasBlob(model.DataBlob, ids[0]) || state.content[0] != ids[0] {
		t.Error("the unchanged chunk was not stored")
	}
	if len(m.blobs) != 1 {
		t.Errorf("%d blobs stored, want only the unchanged chunk", len(m.blobs))
	}
}

// BenchmarkBlockHashes hashes the chunks of 64 MiB of random bytes, cut
// in windows as chunkStream cuts them, with blockHashes (several chunks at
// once) and one chunk after the other with crypto/sha256.
func BenchmarkBlockHashes(b *testing.B) {
	tab, err := chunker.NewTable(chunker.Pol(0x3DA3358B4DC173))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	// windows of 4 MiB plus the leftover, as chunkStream cuts them
	type win struct {
		block []byte
		cuts  []int
	}
	var wins []win
	lo := 0
	for lo < len(data)-(4<<20) {
		hi := min(len(data), lo+(8<<20))
		cuts := tab.Cuts(data[lo:lo+(4<<20)], false, nil)
		if len(cuts) == 0 {
			lo += 4 << 20
			continue
		}
		wins = append(wins, win{data[lo:hi], cuts})
		lo += cuts[len(cuts)-1]
	}
	n := 0 // bytes hashed per round
	for _, w := range wins {
		n += w.cuts[len(w.cuts)-1]
	}
	b.Run("lanes", func(b *testing.B) {
		var h blockHashes
		b.SetBytes(int64(n))
		for b.Loop() {
			for _, w := range wins {
				h.of(w.block, w.cuts)
			}
		}
	})
	b.Run("single", func(b *testing.B) {
		b.SetBytes(int64(n))
		for b.Loop() {
			for _, w := range wins {
				from := 0
				for _, c := range w.cuts {
					sha256.Sum256(w.block[from:c])
					from = c
				}
			}
		}
	})
}
