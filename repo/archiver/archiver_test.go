package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

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
	var want model.IDs
	c := chunker.New(bytes.NewReader(big), testPol)
	buf := make([]byte, chunker.MaxSize)
	for {
		ch, err := c.Next(buf)
		if err != nil {
			break
		}
		want = append(want, model.ID(sha256.Sum256(ch.Data)))
	}
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
	var want model.IDs
	longest := 0
	c := chunker.New(bytes.NewReader(data), testPol)
	buf := make([]byte, chunker.MaxSize)
	for {
		ch, err := c.Next(buf)
		if err != nil {
			break
		}
		longest = max(longest, len(ch.Data))
		want = append(want, model.ID(sha256.Sum256(ch.Data)))
	}
	if longest <= blockSize {
		t.Fatalf("longest chunk %d bytes: the test data does not exercise chunks longer than a block", longest)
	}
	if !slices.Equal(want, n.Content) {
		t.Fatalf("%d chunks, want %d, or they differ", len(n.Content), len(want))
	}
}

// TestGrowBuffer: read buffers grow geometrically for small files, are
// enlarged for long chunks and kept while whole blocks are read, and
// dropped for small files.
func TestGrowBuffer(t *testing.T) {
	same := func(a, b []byte) bool { return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0] }
	b := growBuffer(nil, 5000)
	if cap(b) != 5000 || len(b) != 5000 {
		t.Fatalf("first buffer: len %d cap %d", len(b), cap(b))
	}
	if c := growBuffer(b, 6000); cap(c) != 10000 {
		t.Fatalf("growth: cap %d, want twice the old", cap(c))
	}
	if c := growBuffer(b, 3000); !same(b, c) || len(c) != 5000 {
		t.Fatal("a large enough buffer is not reused whole")
	}
	blk := growBuffer(nil, blockSize)
	big := growBuffer(blk, blockFor(3<<20)) // a long chunk: 6 MiB
	if cap(big) != 6<<20 {
		t.Fatalf("enlarged buffer: cap %d", cap(big))
	}
	// the rest of the file, and the next large file, keep it
	if c := growBuffer(big, blockSize); !same(c, big) || len(c) != cap(big) {
		t.Fatal("enlarged buffer dropped while reading whole blocks")
	}
	if c := growBuffer(big, blockFor(4<<20)); cap(c) != 8<<20 {
		t.Fatalf("longer chunk: cap %d", cap(c))
	}
	// a small file gets a buffer of blockSize again
	if c := growBuffer(big, 100000); cap(c) != blockSize || same(c, big) {
		t.Fatalf("small file after a long chunk: cap %d", cap(c))
	}
}
