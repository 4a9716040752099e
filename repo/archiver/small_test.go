package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo/model"
)

// idRecorder is a memRepo that records, for each data blob saved, whether
// the caller passed its ID.
func idRecorder() *recorder[bool] {
	return newRecorder(func(t model.BlobType, _ []byte, id model.ID) (bool, bool) {
		return !id.IsNull(), t == model.DataBlob
	})
}

// finished collects what readSmall's finish reports.
type finished struct {
	state *fileState
	size  uint64
}

// TestSmallFilesSavedInBatches: a reader keeps small files until it has
// smallBatchLen of them, then saves them with the IDs it computed for all
// of them at once; an empty file is reported at once with no chunks.
func TestSmallFilesSavedInBatches(t *testing.T) {
	r := idRecorder()
	a, err := New(r, r, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	ctx := context.Background()
	s := &slab{}
	defer s.free()
	var b smallBatch
	var got []finished
	finish := func(state *fileState, size uint64) { got = append(got, finished{state, size}) }

	if !a.readSmall(ctx, bytes.NewReader(nil), 0, s, &b, finish) || len(got) != 1 || got[0].size != 0 || len(got[0].state.content) != 0 || got[0].state.content == nil {
		t.Fatalf("empty file: reported %+v", got)
	}
	got = nil
	var files [][]byte
	for i, n := range []int{1, 4000, chunker.MinSize - 2, 77, 1 << 16} {
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		files = append(files, data)
		if !a.readSmall(ctx, bytes.NewReader(data), int64(n), s, &b, finish) {
			t.Fatalf("file of %d bytes not taken as small", n)
		}
		saved := len(r.values())
		switch {
		case i < smallBatchLen-1 && (saved != 0 || len(got) != 0):
			t.Fatalf("after %d small files: %d saved, %d reported, want none before the batch is full", i+1, saved, len(got))
		case i == smallBatchLen-1 && (saved != smallBatchLen || len(got) != smallBatchLen):
			t.Fatalf("after %d small files: %d saved, %d reported, want the batch", i+1, saved, len(got))
		}
	}
	a.saveSmall(ctx, s, &b)
	if len(got) != len(files) {
		t.Fatalf("%d files reported, want %d", len(got), len(files))
	}
	for i, data := range files {
		f := got[i]
		if f.state.err != nil || f.size != uint64(len(data)) || len(f.state.content) != 1 || f.state.content[0] != model.ID(sha256.Sum256(data)) {
			t.Fatalf("file %d: error %v, size %d, content %v", i, f.state.err, f.size, f.state.content)
		}
		if !bytes.Equal(r.blobs[model.BlobHandle{ID: f.state.content[0], Type: model.DataBlob}], data) {
			t.Fatalf("file %d: stored blob differs", i)
		}
	}
	if given := r.values(); slices.Contains(given, false) {
		t.Fatalf("IDs passed to the saver: %v, want all", given)
	}
	if a.readSmall(ctx, bytes.NewReader(nil), chunker.MinSize-1, s, &b, finish) {
		t.Fatal("a file of the minimum size less one is read as small (no room to see it grow)")
	}
}

// TestSmallFileThatGrew: a file longer than it was when opened is cut as
// any other file from all of its bytes, after the files read before it
// were saved; a read error is the file's.
func TestSmallFileThatGrew(t *testing.T) {
	r := idRecorder()
	a, err := New(r, r, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	stop := a.startSavers(context.Background())
	defer stop()
	rng := rand.New(rand.NewPCG(6, 6))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	ctx := context.Background()
	s := &slab{}
	defer s.free()
	var b smallBatch
	reported := make(chan finished, 10)
	finish := func(state *fileState, size uint64) { reported <- finished{state, size} }
	first := random(300)
	a.readSmall(ctx, bytes.NewReader(first), int64(len(first)), s, &b, finish)
	if len(reported) != 0 {
		t.Fatal("a lone small file was saved before the batch was full")
	}

	grown := random(3 * chunker.MinSize)
	rd := &scriptedReader{data: grown[:1000], step: 600, more: grown[1000:]}
	if !a.readSmall(ctx, rd, 1000, s, &b, finish) {
		t.Fatal("not read as a small file")
	}
	if f := <-reported; f.size != 300 || f.state.err != nil {
		t.Fatalf("first file: %+v, want the small file before the grown one", f)
	}
	f := <-reported
	if f.size != uint64(len(grown)) || f.state.err != nil {
		t.Fatalf("grown file: size %d, error %v, want %d", f.size, f.state.err, len(grown))
	}
	if want, _ := streamChunks(grown); !slices.Equal(f.state.content, want) {
		t.Fatalf("grown file: %d chunks, want %d, or they differ", len(f.state.content), len(want))
	}

	failing := io.MultiReader(bytes.NewReader([]byte("some")), errReader{errors.New("injected")})
	a.readSmall(ctx, failing, 100, s, &b, finish)
	if f := <-reported; f.state.err == nil || !strings.Contains(f.state.err.Error(), "injected") || len(b.files) != 0 {
		t.Fatalf("read error: reported %+v, %d in the batch", f, len(b.files))
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestManySmallAndLargeFiles: readers batching small files between large
// ones store every file exactly, with one reader and with the default
// readers (no file waits for a batch that never fills).
func TestManySmallAndLargeFiles(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	files := map[string][]byte{}
	for i := range 150 {
		n := rng.IntN(20000)
		switch i % 50 {
		case 7:
			n = chunker.MinSize + rng.IntN(3*chunker.MinSize)
		case 8:
			n = 0
		}
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		name := fmt.Sprintf("d%d/f%03d", i%3, i)
		files[name] = data
		writeFile(t, filepath.Join(dir, name), data)
	}
	for _, conc := range []int{1, 0} {
		storedAsChunked(t, dir, files, Options{ReadConcurrency: conc})
	}
}
