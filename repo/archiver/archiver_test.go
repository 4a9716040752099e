package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-backup/arca/chunker"
	"github.com/arca-backup/arca/repo/model"
)

// memRepo is an in-memory BlobSaver and Repo.
type memRepo struct {
	mu    sync.Mutex
	blobs map[model.BlobHandle][]byte
}

func newMemRepo() *memRepo { return &memRepo{blobs: map[model.BlobHandle][]byte{}} }

func (m *memRepo) SaveBlob(_ context.Context, t model.BlobType, buf []byte, id model.ID) (model.ID, bool, int, error) {
	if id.IsNull() {
		id = model.ID(sha256.Sum256(buf))
	}
	h := model.BlobHandle{ID: id, Type: t}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[h]; ok {
		return id, true, 0, nil
	}
	m.blobs[h] = bytes.Clone(buf)
	return id, false, len(buf), nil
}

func (m *memRepo) LoadTree(_ context.Context, id model.ID) (*model.Tree, error) {
	m.mu.Lock()
	b, ok := m.blobs[model.BlobHandle{ID: id, Type: model.TreeBlob}]
	m.mu.Unlock()
	if !ok {
		return nil, errors.New("no such tree")
	}
	return model.DecodeTree(b)
}

func (m *memRepo) HasBlob(t model.BlobType, id model.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blobs[model.BlobHandle{ID: id, Type: t}]
	return ok
}

// recorder is a memRepo that records a value for each blob offered to
// SaveBlob that note picks.
type recorder[T any] struct {
	*memRepo
	note func(t model.BlobType, buf []byte, id model.ID) (v T, picked bool)
	mu   sync.Mutex
	seen []T
}

func newRecorder[T any](note func(t model.BlobType, buf []byte, id model.ID) (T, bool)) *recorder[T] {
	return &recorder[T]{memRepo: newMemRepo(), note: note}
}

func (r *recorder[T]) SaveBlob(ctx context.Context, t model.BlobType, buf []byte, id model.ID) (model.ID, bool, int, error) {
	if v, ok := r.note(t, buf, id); ok {
		r.mu.Lock()
		r.seen = append(r.seen, v)
		r.mu.Unlock()
	}
	return r.memRepo.SaveBlob(ctx, t, buf, id)
}

// values returns what was recorded since the start or the last reset.
func (r *recorder[T]) values() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

func (r *recorder[T]) reset() {
	r.mu.Lock()
	r.seen = nil
	r.mu.Unlock()
}

const testPol = chunker.Pol(0x3DA3358B4DC173)

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// lookup follows an absolute path from the root tree.
func lookup(t *testing.T, m *memRepo, root model.ID, p string) *model.Node {
	t.Helper()
	id := root
	var n *model.Node
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		tree, err := m.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		n = tree.Find(name)
		if n == nil {
			t.Fatalf("%s: %q not found", p, name)
		}
		if n.Subtree != nil {
			id = *n.Subtree
		}
	}
	return n
}

func content(t *testing.T, m *memRepo, n *model.Node) []byte {
	var out []byte
	for _, id := range n.Content {
		b, ok := m.blobs[model.BlobHandle{ID: id, Type: model.DataBlob}]
		if !ok {
			t.Fatalf("blob %s missing", id.Str())
		}
		out = append(out, b...)
	}
	return out
}

// TestContentAndChunks checks that large and small files are stored in
// order with chunk boundaries equal to the streaming chunker's.
func TestContentAndChunks(t *testing.T) {
	dir := t.TempDir()
	rnd := rand.New(rand.NewChaCha8([32]byte{1}))
	big := make([]byte, 40<<20+12345)
	for i := range big {
		big[i] = byte(rnd.Uint32())
	}
	writeFile(t, filepath.Join(dir, "big"), big)
	small := map[string][]byte{}
	for i := range 50 {
		name := filepath.Join(dir, "s", string(rune('a'+i%26))+strings.Repeat("x", i/26))
		small[name] = big[i*1000 : i*1000+i*37]
		writeFile(t, name, small[name])
	}
	m := newMemRepo()
	a, err := New(m, m, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	root, sum, err := a.Snapshot(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := lookup(t, m, root, filepath.Join(dir, "big"))
	if !bytes.Equal(content(t, m, n), big) {
		t.Fatal("big file content differs")
	}
	want, _ := streamChunks(big)
	if len(want) != len(n.Content) {
		t.Fatalf("%d chunks, want %d", len(n.Content), len(want))
	}
	for i := range want {
		if want[i] != n.Content[i] {
			t.Fatalf("chunk %d differs", i)
		}
	}
	for name, data := range small {
		n := lookup(t, m, root, name)
		if got := content(t, m, n); !bytes.Equal(got, data) || n.Size != uint64(len(data)) || n.Content == nil {
			t.Errorf("%s: content differs", name)
		}
	}
	if sum.Files.New != 51 || sum.ProcessedBytes == 0 {
		t.Errorf("summary %+v", sum)
	}

	// a second run with the first as parent reads nothing
	opened := 0
	var mu sync.Mutex
	a2, _ := New(m, m, testPol, Options{Open: func(p string) (File, error) {
		mu.Lock()
		opened++
		mu.Unlock()
		return os.Open(p)
	}}, Callbacks{})
	root2, sum2, err := a2.Snapshot(context.Background(), []string{dir}, &root)
	if err != nil {
		t.Fatal(err)
	}
	// directories above dir (e.g. /tmp) may change meanwhile: compare dir's tree
	s1, s2 := lookup(t, m, root, dir).Subtree, lookup(t, m, root2, dir).Subtree
	if *s1 != *s2 || opened != 0 || sum2.Files.Unchanged != 51 || sum2.DataBlobs != 0 {
		t.Errorf("unchanged backup: root %v vs %v, %d files opened, summary %+v", s2.Str(), s1.Str(), opened, sum2)
	}
}

// TestTargetBelowLinkedDirectory: a target reached through a symbolic
// link to a directory is stored below a directory of the link's name, as
// restic stores it, and not reported as an error.
func TestTargetBelowLinkedDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real", "a", "x.txt"), []byte("through the link"))
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	m := newMemRepo()
	var errs []string
	a, err := New(m, m, testPol, Options{}, Callbacks{Error: func(item string, err error) error {
		errs = append(errs, item+": "+err.Error())
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "link", "a", "x.txt")
	root, _, err := a.Snapshot(context.Background(), []string{target}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	link := lookup(t, m, root, filepath.Join(dir, "link"))
	if link.Type != model.NodeTypeDir {
		t.Errorf("link stored as %v, want a directory", link.Type)
	}
	if got := content(t, m, lookup(t, m, root, target)); string(got) != "through the link" {
		t.Errorf("content %q", got)
	}
}

// TestReadError: a file failing while being read is reported through
// Error and left out; the rest is saved.
func TestReadError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good"), []byte("good"))
	writeFile(t, filepath.Join(dir, "bad"), []byte("bad"))
	m := newMemRepo()
	var items []string
	var mu sync.Mutex
	a, _ := New(m, m, testPol, Options{Open: func(p string) (File, error) {
		if filepath.Base(p) == "bad" {
			return nil, errors.New("injected read failure")
		}
		return os.Open(p)
	}}, Callbacks{Error: func(item string, err error) error {
		mu.Lock()
		items = append(items, item+": "+err.Error())
		mu.Unlock()
		return nil
	}})
	root, _, err := a.Snapshot(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || !strings.Contains(items[0], "injected") {
		t.Errorf("errors: %v", items)
	}
	lookup(t, m, root, filepath.Join(dir, "good"))
	tree, _ := m.LoadTree(context.Background(), *lookup(t, m, root, dir).Subtree)
	if tree.Find("bad") != nil {
		t.Error("failed file is in the tree")
	}
}

// TestVanishedFile: a new file that is gone when its reader opens it
// (deleted after its directory was read) is left out without an error, as
// restic leaves out a file gone before its lstat; one that cannot be
// opened for another reason is reported.
func TestVanishedFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "denied", "gone"} {
		writeFile(t, filepath.Join(dir, name), []byte(name))
	}
	m := newMemRepo()
	var items []string
	var mu sync.Mutex
	a, _ := New(m, m, testPol, Options{Open: func(p string) (File, error) {
		switch filepath.Base(p) {
		case "gone":
			if err := os.Remove(p); err != nil {
				return nil, err
			}
		case "denied":
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrPermission}
		}
		return os.Open(p)
	}}, Callbacks{Error: func(item string, err error) error {
		mu.Lock()
		items = append(items, err.Error())
		mu.Unlock()
		return nil
	}})
	root, sum, err := a.Snapshot(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || !strings.Contains(items[0], "denied") {
		t.Errorf("errors: %q, want one for the file denied", items)
	}
	tree, _ := m.LoadTree(context.Background(), *lookup(t, m, root, dir).Subtree)
	var names []string
	for _, n := range tree.Nodes {
		names = append(names, n.Name)
	}
	if !slices.Equal(names, []string{"a"}) {
		t.Errorf("tree holds %q, want only a", names)
	}
	if sum.Files.New != 1 {
		t.Errorf("%d new files, want 1", sum.Files.New)
	}
}

// TestCancel: a cancelled context stops the backup with an error.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), []byte("x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := newMemRepo()
	a, _ := New(m, m, testPol, Options{}, Callbacks{})
	if _, _, err := a.Snapshot(ctx, []string{dir}, nil); err == nil {
		t.Fatal("no error after cancel")
	}
}

// TestLongChunks: chunks longer than a read block (a repeated pattern in
// which the chunker finds no boundary gives MaxSize chunks) are cut
// exactly as the streaming chunker cuts them.
func TestLongChunks(t *testing.T) {
	dir := t.TempDir()
	rnd := rand.New(rand.NewChaCha8([32]byte{2}))
	pattern := make([]byte, 4096)
	for i := range pattern {
		pattern[i] = byte(rnd.Uint32())
	}
	var data []byte
	for len(data) < 3*chunker.MaxSize {
		data = append(data, pattern...)
	}
	tail := make([]byte, 5<<20+333) // ordinary chunks after the long ones
	for i := range tail {
		tail[i] = byte(rnd.Uint32())
	}
	data = append(data, tail...)
	writeFile(t, filepath.Join(dir, "long"), data)
	m := newMemRepo()
	a, err := New(m, m, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := a.Snapshot(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := lookup(t, m, root, filepath.Join(dir, "long"))
	if !bytes.Equal(content(t, m, n), data) {
		t.Fatal("content differs")
	}
	want, longest := streamChunks(data)
	if longest <= blockSize {
		t.Fatalf("longest chunk %d bytes: the test data does not exercise chunks longer than a block", longest)
	}
	if !slices.Equal(want, n.Content) {
		t.Fatalf("%d chunks, want %d, or they differ", len(n.Content), len(want))
	}
}

// TestSlabWindow: the next block goes into the second half when the first
// is full, and an incomplete chunk at the end of a full slab moves to the
// front, followed by the rest of the first half or, when it is longer than
// a half, of the whole slab.
func TestSlabWindow(t *testing.T) {
	s := &slab{}
	defer s.free()
	check := func(lo, hi, wantLo, wantHi, wantEnd int) {
		t.Helper()
		gotLo, gotHi, gotEnd := s.window(lo, hi)
		if gotLo != wantLo || gotHi != wantHi || gotEnd != wantEnd {
			t.Fatalf("window(%d, %d) = %d, %d, %d, want %d, %d, %d", lo, hi, gotLo, gotHi, gotEnd, wantLo, wantHi, wantEnd)
		}
	}
	check(0, 0, 0, 0, blockSize)                                       // a stream starting at the front
	check(blockSize, blockSize, blockSize, blockSize, chunker.MaxSize) // one starting in the second half
	check(100, blockSize, 100, blockSize, chunker.MaxSize)
	for i := range s.buf {
		s.buf[i] = byte(i / 4096)
	}
	short := chunker.MaxSize - 5000
	check(short, chunker.MaxSize, 0, 5000, blockSize)
	if s.buf[0] != byte(short/4096%256) || s.buf[4999] != byte((chunker.MaxSize-1)/4096%256) {
		t.Fatal("incomplete chunk not moved to the front")
	}
	for i := range s.buf {
		s.buf[i] = byte(i / 4096)
	}
	check(10, chunker.MaxSize, 0, chunker.MaxSize-10, chunker.MaxSize)
	if s.buf[0] != 0 || s.buf[chunker.MaxSize-11] != byte((chunker.MaxSize-1)/4096%256) {
		t.Fatal("long incomplete chunk not moved to the front")
	}
}

// TestSlabWaitsForSaves: a half is handed out for reading only once the
// saves of the chunks lying in it are done; a chunk across both halves
// holds both.
func TestSlabWaitsForSaves(t *testing.T) {
	s := &slab{}
	defer s.free()
	s.window(0, 0)
	s.hold(blockSize-10, blockSize+10)
	var released atomic.Bool
	go func() {
		released.Store(true)
		s.release(blockSize-10, blockSize+10)
	}()
	s.window(0, blockSize) // needs the second half
	if !released.Load() {
		t.Fatal("second half handed out while a save still reads it")
	}
	s.hold(0, 100)
	released.Store(false)
	go func() {
		released.Store(true)
		s.release(0, 100)
	}()
	s.window(blockSize+1, chunker.MaxSize) // needs the first half
	if !released.Load() {
		t.Fatal("first half handed out while a save still reads it")
	}
}

// TestSlabWidensAlone: the slab of the only reader of large files widens
// to four blocks when its chunk first moves to the front, stays wide from
// one stream to the next, and narrows again, its outer blocks given back,
// when its reader waits for files.
func TestSlabWidensAlone(t *testing.T) {
	sh := newSlabShare(2)
	s := &slab{share: sh}
	defer s.free()
	s.join()
	check := func(lo, hi, wantLo, wantHi, wantEnd int) {
		t.Helper()
		gotLo, gotHi, gotEnd := s.window(lo, hi)
		if gotLo != wantLo || gotHi != wantHi || gotEnd != wantEnd {
			t.Fatalf("window(%d, %d) = %d, %d, %d, want %d, %d, %d", lo, hi, gotLo, gotHi, gotEnd, wantLo, wantHi, wantEnd)
		}
	}
	check(0, 0, 0, 0, blockSize)
	check(100, blockSize, 100, blockSize, 2*blockSize)
	check(2*blockSize-100, 2*blockSize, 0, 100, blockSize) // to the front: wide from here
	if s.blocks != wideBlocks || sh.wide != s {
		t.Fatalf("%d blocks after the first move to the front, want %d", s.blocks, wideBlocks)
	}
	check(0, blockSize, 0, blockSize, 2*blockSize)
	check(0, 2*blockSize, 0, 2*blockSize, 3*blockSize)
	check(3*blockSize-10, 3*blockSize, 3*blockSize-10, 3*blockSize, 4*blockSize)
	for i := 2 * blockSize; i < 4*blockSize; i++ {
		s.buf[i] = 1 // as read into
	}
	if n, ok := s.mem.Resident(); ok && n <= slabBlocks*blockSize {
		t.Fatalf("%d bytes resident after reading into the outer blocks, want more than %d", n, slabBlocks*blockSize)
	}
	s.endStream(3*blockSize - 5)
	if s.blocks != wideBlocks || s.first != 3 {
		t.Fatalf("after the stream ended: %d blocks, next stream in block %d, want %d and 3", s.blocks, s.first, wideBlocks)
	}
	check(3*blockSize, 3*blockSize, 3*blockSize, 3*blockSize, 4*blockSize) // the next stream
	s.endStream(4*blockSize - 5)
	if s.first != 0 {
		t.Fatalf("next stream starts in block %d, want 0", s.first)
	}
	s.idle()
	if s.blocks != slabBlocks || sh.wide != nil {
		t.Fatalf("%d blocks once its reader waits for files, want %d", s.blocks, slabBlocks)
	}
	if n, ok := s.mem.Resident(); ok && n > slabBlocks*blockSize {
		t.Fatalf("%d bytes resident after narrowing, want at most %d", n, slabBlocks*blockSize)
	}
}

// TestSlabOfOnlyReaderStaysNarrow: with one reader in all (compression
// max, --read-concurrency 1) there is no other reader's memory to take,
// and the slab never widens.
func TestSlabOfOnlyReaderStaysNarrow(t *testing.T) {
	s := &slab{share: newSlabShare(1)}
	defer s.free()
	toFirstMove(s)
	if s.blocks != slabBlocks {
		t.Fatalf("the only reader's slab has %d blocks, want %d", s.blocks, slabBlocks)
	}
}

// TestSlabNarrowsForAnotherReader: a reader that takes its first file
// while another's slab is wide waits until that slab has narrowed, at its
// next move to the front and once the saves reading its outer blocks are
// done; with two slabs in use neither widens.
func TestSlabNarrowsForAnotherReader(t *testing.T) {
	sh := newSlabShare(2)
	a := wideSlab(t, sh)
	defer a.free()
	a.window(0, 2*blockSize)
	a.hold(2*blockSize+10, 2*blockSize+20) // a save still reads block 2

	b, joined := secondReader(sh)
	defer b.free()
	select {
	case <-joined:
		t.Fatal("second reader started while the first slab was wide")
	default:
	}
	var released atomic.Bool
	go func() {
		time.Sleep(10 * time.Millisecond)
		released.Store(true)
		a.release(2*blockSize+10, 2*blockSize+20)
	}()
	lo, hi, _ := a.window(4*blockSize-50, 4*blockSize) // to the front: narrows
	if lo != 0 || hi != 50 {
		t.Fatalf("chunk at [%d, %d), want [0, 50)", lo, hi)
	}
	if !released.Load() {
		t.Fatal("narrowed while a save still read an outer block")
	}
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		t.Fatal("second reader still waits after the first slab narrowed")
	}
	if a.blocks != slabBlocks {
		t.Fatalf("first slab has %d blocks, want %d", a.blocks, slabBlocks)
	}
	a.window(0, blockSize)
	a.window(2*blockSize-10, 2*blockSize)
	if a.blocks != slabBlocks || sh.wide != nil {
		t.Fatal("a slab widened while two were in use")
	}
}

// wideSlab returns a slab of sh, the only one in use, that has widened at
// its stream's first move to the front and holds the stream's chunk at
// [0, 100).
func wideSlab(t *testing.T, sh *slabShare) *slab {
	t.Helper()
	s := &slab{share: sh}
	toFirstMove(s)
	if s.blocks != wideBlocks {
		t.Fatalf("the lone slab has %d blocks, want %d", s.blocks, wideBlocks)
	}
	return s
}

// toFirstMove starts s's reader on a file and reads it up to its first
// move to the front, which leaves the chunk at [0, 100).
func toFirstMove(s *slab) {
	s.nextFile()
	s.window(0, 0)
	s.window(0, blockSize)
	s.window(2*blockSize-100, 2*blockSize)
}

// secondReader starts a reader of sh on its first file and returns its
// slab once it waits in sh.join, with a channel that is closed when it
// may start.
func secondReader(sh *slabShare) (*slab, <-chan struct{}) {
	b := &slab{share: sh}
	joined := make(chan struct{})
	go func() {
		b.nextFile()
		close(joined)
	}()
	for {
		sh.mu.Lock()
		w := sh.waiting
		sh.mu.Unlock()
		if w == 1 {
			return b, joined
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSlabNarrowsBetweenFiles: a wide slab whose stream ends, or whose
// reader takes its next file, while another reader waits to start
// narrows then, not only at its next move to the front.
func TestSlabNarrowsBetweenFiles(t *testing.T) {
	for _, tc := range []struct {
		name      string
		then      func(*slab)
		wantFirst int
	}{
		{"stream end", func(s *slab) { s.endStream(blockSize + 7) }, 0},
		{"next file", func(s *slab) { s.nextFile() }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh := newSlabShare(2)
			a := wideSlab(t, sh)
			defer a.free()
			a.first = 3
			b, joined := secondReader(sh)
			defer b.free()
			tc.then(a)
			select {
			case <-joined:
			case <-time.After(10 * time.Second):
				t.Fatal("second reader still waits")
			}
			if a.blocks != slabBlocks || a.first != tc.wantFirst {
				t.Fatalf("%d blocks, next stream in block %d, want %d and %d", a.blocks, a.first, slabBlocks, tc.wantFirst)
			}
		})
	}
}

// TestOneReaderManyFiles: one reader takes files of all sizes in turn
// through its slab (streams starting in either half, long chunks moving to
// the front), and every file is cut exactly as the streaming chunker cuts
// it.
func TestOneReaderManyFiles(t *testing.T) {
	dir := t.TempDir()
	rnd := rand.New(rand.NewChaCha8([32]byte{3}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	pattern := random(4096)
	long := bytes.Repeat(pattern, (chunker.MaxSize+3<<20)/4096) // a MaxSize chunk and a long tail
	files := map[string][]byte{
		"a": random(1000),
		"b": append(random(3<<20), long...),
		"c": random(5 << 20),
		"d": random(10),
		"e": append(long, random(9<<20)...),
		"f": random(blockSize),
		"g": random(blockSize + 1),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	storedAsChunked(t, dir, files, Options{ReadConcurrency: 1})
}

// TestChunksHashedByReadersOrSavers: whether the readers hash the chunks
// (no CPU to spare) or leave them to the savers (always a CPU to spare),
// every file is stored whole under the IDs of its chunks.
func TestChunksHashedByReadersOrSavers(t *testing.T) {
	dir := t.TempDir()
	rnd := rand.New(rand.NewChaCha8([32]byte{5}))
	files := map[string][]byte{}
	for i, n := range []int{chunker.MaxSize*2 + 12345, 3 * blockSize, blockSize + 1, 700 << 10, 100} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rnd.Uint32())
		}
		name := fmt.Sprintf("f%d", i)
		files[name] = b
		writeFile(t, filepath.Join(dir, name), b)
	}
	for _, cpus := range []int32{0, 1 << 20} {
		storedAsChunked(t, dir, files, Options{}, func(a *Archiver) { a.cpus.cpus = cpus })
		storedAsChunked(t, dir, files, Options{ReadConcurrency: 1}, func(a *Archiver) { a.cpus.cpus = cpus })
	}
}

// storedAsChunked backs up dir with opts and checks that each of files
// (by its path below dir) is stored whole and cut exactly as the
// streaming chunker cuts it.
func storedAsChunked(t *testing.T, dir string, files map[string][]byte, opts Options, adjust ...func(*Archiver)) {
	t.Helper()
	m := newMemRepo()
	a, err := New(m, m, testPol, opts, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range adjust {
		f(a)
	}
	root, _, err := a.Snapshot(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		n := lookup(t, m, root, filepath.Join(dir, name))
		want, _ := streamChunks(data)
		if !slices.Equal(want, n.Content) || n.Size != uint64(len(data)) {
			t.Fatalf("read concurrency %d, file %s: %d chunks of %d bytes, want %d of %d, or they differ", opts.ReadConcurrency, name, len(n.Content), n.Size, len(want), len(data))
		}
		if !bytes.Equal(content(t, m, n), data) {
			t.Fatalf("read concurrency %d, file %s: content differs", opts.ReadConcurrency, name)
		}
	}
}

// streamChunks returns the IDs of the chunks the streaming chunker cuts
// data into, and the length of the longest.
func streamChunks(data []byte) (model.IDs, int) {
	var ids model.IDs
	longest := 0
	c := chunker.New(bytes.NewReader(data), testPol)
	buf := make([]byte, chunker.MaxSize)
	for {
		ch, err := c.Next(buf)
		if err != nil {
			return ids, longest
		}
		longest = max(longest, len(ch.Data))
		ids = append(ids, model.ID(sha256.Sum256(ch.Data)))
	}
}

// readingFile reports to the test when it is first read and, after that,
// closed.
type readingFile struct {
	*os.File
	started      bool
	read, closed func()
}

func (f *readingFile) Read(p []byte) (int, error) {
	if !f.started {
		f.started = true
		f.read()
	}
	return f.File.Read(p)
}

func (f *readingFile) Close() error {
	if f.started {
		f.closed()
	}
	return f.File.Close()
}

// TestReadersPerFileSize: without a read concurrency, files shorter than
// chunker.MinSize are read by smallReaders more readers than the two (or
// LargeFileReaders) that read files of any size; larger files only by
// those; a read concurrency that is set is the number of files read at
// once, whatever their sizes. The files are new, so the walk does not
// learn their sizes: the readers of small files open the large ones and
// hand them over.
func TestReadersPerFileSize(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size        int
		concurrency int
		large       int // LargeFileReaders
		want        int
	}{
		{"small files", 1000, 0, 0, 2 + smallReaders},
		{"files of the minimum chunk size", chunker.MinSize, 0, 0, 2},
		{"small files, concurrency set", 1000, 3, 0, 3},
		{"small files, one large-file reader", 1000, 0, 1, 1 + smallReaders},
		{"large files, one large-file reader", chunker.MinSize, 0, 1, 1},
		{"large files, concurrency set", chunker.MinSize, 3, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 8 {
				writeFile(t, filepath.Join(dir, string(rune('a'+i))), bytes.Repeat([]byte{byte(i)}, tc.size))
			}
			var mu sync.Mutex
			reading, most := 0, 0
			started := sync.NewCond(&mu)
			read := func() {
				mu.Lock()
				defer mu.Unlock()
				reading++
				most = max(most, reading)
				started.Broadcast()
				// go on reading once one more than expected could be
				// read at once, or a while has passed
				deadline := time.Now().Add(200 * time.Millisecond)
				go func() {
					time.Sleep(time.Until(deadline))
					started.Broadcast()
				}()
				for reading <= tc.want && time.Now().Before(deadline) {
					started.Wait()
				}
			}
			closed := func() {
				mu.Lock()
				reading--
				mu.Unlock()
			}
			openFile := func(p string) (File, error) {
				f, err := os.Open(p)
				if err != nil {
					return nil, err
				}
				return &readingFile{File: f, read: read, closed: closed}, nil
			}
			m := newMemRepo()
			a, err := New(m, m, testPol, Options{ReadConcurrency: tc.concurrency, LargeFileReaders: tc.large, Open: openFile}, Callbacks{})
			if err != nil {
				t.Fatal(err)
			}
			root, _, err := a.Snapshot(context.Background(), []string{dir}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if most != tc.want {
				t.Errorf("at most %d files read at once, want %d", most, tc.want)
			}
			for i := range 8 {
				n := lookup(t, m, root, filepath.Join(dir, string(rune('a'+i))))
				if !bytes.Equal(content(t, m, n), bytes.Repeat([]byte{byte(i)}, tc.size)) {
					t.Errorf("file %c: content differs", 'a'+i)
				}
			}
		})
	}
}

// pieceRepo is a memRepo that also takes blobs in pieces, and records
// how many pieces each blob given so had.
type pieceRepo struct {
	*memRepo
	mu     sync.Mutex
	pieces map[model.ID]int
}

func (p *pieceRepo) SaveBlobPieces(ctx context.Context, t model.BlobType, pieces [][]byte, id model.ID) (model.ID, bool, int, error) {
	p.mu.Lock()
	p.pieces[id] = len(pieces)
	p.mu.Unlock()
	return p.memRepo.SaveBlob(ctx, t, bytes.Join(pieces, nil), id)
}

// TestLargeTreeInPieces: the tree of a large new directory goes to a
// PieceSaver in pieces (under the ID of the pieces joined), and only that
// tree; the snapshot is the one a plain BlobSaver gets.
func TestLargeTreeInPieces(t *testing.T) {
	dir := t.TempDir()
	for i := range 5000 {
		writeFile(t, filepath.Join(dir, "big", fmt.Sprintf("a-file-with-a-long-name-%05d", i)), nil)
	}
	writeFile(t, filepath.Join(dir, "small", "one"), []byte("one"))
	run := func(saver BlobSaver, repo Repo) model.ID {
		a, err := New(repo, saver, testPol, Options{}, Callbacks{})
		if err != nil {
			t.Fatal(err)
		}
		root, _, err := a.Snapshot(context.Background(), []string{dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	p := &pieceRepo{memRepo: newMemRepo(), pieces: map[model.ID]int{}}
	root := run(p, p.memRepo)
	big := lookup(t, p.memRepo, root, filepath.Join(dir, "big"))
	blob := p.blobs[model.BlobHandle{ID: *big.Subtree, Type: model.TreeBlob}]
	if model.Hash(blob) != *big.Subtree {
		t.Fatalf("the tree of big is stored under %v, its hash is %v", big.Subtree.Str(), model.Hash(blob).Str())
	}
	if got, want := p.pieces[*big.Subtree], (len(blob)+(512<<10)-1)/(512<<10); got < 2 || got > want {
		t.Errorf("the tree of big (%d bytes) was given in %d pieces, want 2 to %d", len(blob), got, want)
	}
	if len(p.pieces) != 1 {
		t.Errorf("%d trees given in pieces, want only big's", len(p.pieces))
	}
	tree, err := model.DecodeTree(blob)
	if err != nil || len(tree.Nodes) != 5000 {
		t.Fatalf("tree of big: %v", err)
	}
	m := newMemRepo()
	if plain := run(m, m); plain != root {
		t.Errorf("root %v with pieces, %v without", root.Str(), plain.Str())
	}
}
