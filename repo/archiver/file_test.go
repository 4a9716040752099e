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
