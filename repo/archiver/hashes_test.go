package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo/model"
)

// TestBlockHashes: the chunks of a block with several get their SHA-256
// as ID, except all-zero chunks of the minimum size; a block with one
// chunk leaves its ID to the saver.
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
		ids := h.of(block, cuts)
		if len(ids) != len(cuts) {
			t.Fatalf("round %d: %d IDs for %d chunks", round, len(ids), len(cuts))
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
			from = c
		}
	}
	if ids := h.of(block[:1000], []int{1000}); len(ids) != 1 || !ids[0].IsNull() {
		t.Fatalf("single chunk: IDs %v, want one null ID", ids)
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

// TestSmallChunksSavedByTheirReader: a chunk shorter than the minimum
// size (a small file) is saved by the goroutine that read it, without a
// saver; longer chunks go to the savers.
func TestSmallChunksSavedByTheirReader(t *testing.T) {
	m := newMemRepo()
	a, err := New(m, m, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	a.saves = make(chan chunkSave) // no saver takes anything
	rng := rand.New(rand.NewPCG(3, 3))
	small := make([]byte, chunker.MinSize-1)
	for i := range small {
		small[i] = byte(rng.Uint32())
	}
	ctx := context.Background()
	s := &slab{}
	defer s.free()
	done := make(chan struct{})
	go func() {
		defer close(done)
		state, size := a.chunkStream(ctx, bytes.NewReader(small), s, -1)
		state.whenSaved(func() {})
		if size != uint64(len(small)) || state.err != nil || len(state.content) != 1 {
			t.Errorf("small file: size %d, error %v, %d chunks", size, state.err, len(state.content))
			return
		}
		if want := model.ID(sha256.Sum256(small)); state.content[0] != want {
			t.Errorf("small file: chunk ID %v, want %v", state.content[0].Str(), want.Str())
		}
	}()
	select {
	case <-done:
	case c := <-a.saves:
		a.storeChunk(ctx, c)
		t.Fatal("a chunk shorter than the minimum size was handed to a saver")
	case <-time.After(10 * time.Second):
		t.Fatal("saving a small file did not finish")
	}

	// two minimum sizes of random bytes: at least one chunk goes to a saver
	large := make([]byte, 2*chunker.MinSize)
	for i := range large {
		large[i] = byte(rng.Uint32())
	}
	done = make(chan struct{})
	go func() {
		defer close(done)
		a.chunkStream(ctx, bytes.NewReader(large), s, -1)
	}()
	handed := 0
	for {
		select {
		case c := <-a.saves:
			handed++
			a.storeChunk(ctx, c)
			continue
		case <-done:
		}
		break
	}
	if handed == 0 {
		t.Fatal("no chunk of a file of two minimum sizes went to a saver")
	}
}

// scriptedReader returns its data in reads of at most step bytes and
// counts the reads; more is appended to data after the first read (a
// file that grows while it is read).
type scriptedReader struct {
	data  []byte
	step  int
	more  []byte
	reads int
}

func (r *scriptedReader) Read(p []byte) (int, error) {
	r.reads++
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.step)], r.data)
	r.data = r.data[n:]
	if r.more != nil {
		r.data = append(r.data, r.more...)
		r.more = nil
	}
	return n, nil
}

// TestChunkStreamEndsAtTheExpectedLength: a short read that reaches the
// length the file had when it was opened ends the stream without another
// read; short reads before that length, or a stream without a known
// length, are read on to the end.
func TestChunkStreamEndsAtTheExpectedLength(t *testing.T) {
	m := newMemRepo()
	a, err := New(m, m, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 640) // 10 KiB
	more := []byte("appended while the file was read")
	s := &slab{}
	defer s.free()
	for _, c := range []struct {
		name      string
		r         *scriptedReader
		length    int64
		wantSize  int
		wantReads int
	}{
		{"whole file in one read", &scriptedReader{data: data, step: len(data)}, int64(len(data)), len(data), 1},
		{"no length known", &scriptedReader{data: data, step: len(data)}, -1, len(data), 2},
		{"short reads before the end", &scriptedReader{data: data, step: 1000}, int64(len(data)), len(data), 11},
		{"grew after it was opened", &scriptedReader{data: data, step: 4096, more: more}, int64(len(data)), len(data) + len(more), 4},
	} {
		state, size := a.chunkStream(context.Background(), c.r, s, c.length)
		state.whenSaved(func() {})
		if state.err != nil || int(size) != c.wantSize || c.r.reads != c.wantReads {
			t.Errorf("%s: size %d after %d reads (error %v), want %d after %d", c.name, size, c.r.reads, state.err, c.wantSize, c.wantReads)
		}
	}
}
