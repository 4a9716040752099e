package walker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

// memBlobs is an in-memory BlobLoader counting loads per blob.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[model.ID][]byte
	loads map[model.ID]int
	fail  map[model.ID]bool
	total atomic.Int64
}

func newMemBlobs() *memBlobs {
	return &memBlobs{blobs: map[model.ID][]byte{}, loads: map[model.ID]int{}, fail: map[model.ID]bool{}}
}

func (m *memBlobs) LoadBlob(ctx context.Context, t model.BlobType, id model.ID, _ []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads[id]++
	m.total.Add(1)
	if m.fail[id] {
		return nil, fmt.Errorf("blob %s is damaged", id.Str())
	}
	b, ok := m.blobs[id]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", id.Str())
	}
	return b, nil
}

// treeAt returns the subtree ID of directory name in tree id.
func (m *memBlobs) treeAt(t *testing.T, id model.ID, name string) model.ID {
	t.Helper()
	tr, err := model.DecodeTree(m.blobs[id])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		if n.Name == name && n.Subtree != nil {
			return *n.Subtree
		}
	}
	t.Fatalf("no directory %q", name)
	return model.ID{}
}

// tree describes a directory for makeTree: name -> nil for a file, or a
// nested tree for a directory.
type tree map[string]any

func (m *memBlobs) makeTree(t *testing.T, tr tree) model.ID {
	t.Helper()
	names := make([]string, 0, len(tr))
	for n := range tr {
		names = append(names, n)
	}
	slices.Sort(names)
	var nodes []*model.Node
	for _, n := range names {
		switch v := tr[n].(type) {
		case nil:
			nodes = append(nodes, &model.Node{Name: n, Type: model.NodeTypeFile, Size: uint64(len(n))})
		case tree:
			id := m.makeTree(t, v)
			nodes = append(nodes, &model.Node{Name: n, Type: model.NodeTypeDir, Subtree: &id})
		case model.NodeType:
			nodes = append(nodes, &model.Node{Name: n, Type: v})
		default:
			t.Fatalf("bad tree entry %T", v)
		}
	}
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	id := model.Hash(buf)
	m.blobs[id] = buf
	return id
}

var testTree = tree{
	"a": tree{
		"x":   nil,
		"y":   tree{"deep": nil},
		"z":   nil,
		"sub": tree{},
	},
	"b":    nil,
	"c":    tree{"f1": nil, "f2": nil, "f3": nil},
	"same": tree{"deep": nil}, // same tree ID as a/y
	"link": model.NodeTypeSymlink,
}

func record(w *Walker, root model.ID, skip map[string]error) ([]string, error) {
	var got []string
	err := w.Walk(context.Background(), root, Visitor{
		Node: func(_ model.ID, p string, n *model.Node) error {
			if n == nil {
				got = append(got, "root "+p)
			} else {
				got = append(got, string(n.Type)+" "+p)
			}
			return skip[p]
		},
		LeaveDir: func(p string) error {
			got = append(got, "leave "+p)
			return nil
		},
	})
	return got, err
}

func TestWalkOrder(t *testing.T) {
	m := newMemBlobs()
	root := m.makeTree(t, testTree)
	got, err := record(New(m, Options{}), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"root /",
		"dir /a", "dir /a/sub", "leave /a/sub", "file /a/x", "dir /a/y", "file /a/y/deep", "leave /a/y", "file /a/z", "leave /a",
		"file /b",
		"dir /c", "file /c/f1", "file /c/f2", "file /c/f3", "leave /c",
		"symlink /link",
		"dir /same", "file /same/deep", "leave /same",
		"leave /",
	}
	if !slices.Equal(got, want) {
		t.Errorf("walk order:\n got %q\nwant %q", got, want)
	}
}

func TestWalkSkip(t *testing.T) {
	m := newMemBlobs()
	root := m.makeTree(t, testTree)

	// skipping a directory: its subtree is not walked, and no LeaveDir
	// for it
	w := New(m, Options{Prefetch: -1})
	got, err := record(w, root, map[string]error{"/a": ErrSkipNode})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "file /a/") || g == "leave /a" {
			t.Errorf("skipped directory walked: %q", g)
		}
	}
	// skipping at a file skips the rest of its directory, LeaveDir still comes
	got, err = record(New(m, Options{}), root, map[string]error{"/c/f1": ErrSkipNode})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(got, "file /c/f2") || !slices.Contains(got, "leave /c") || !slices.Contains(got, "symlink /link") {
		t.Errorf("skip at file: %q", got)
	}
	// a directory Enter passes by is neither loaded (prefetch off) nor
	// visited, and the walk goes on after it
	m.loads = map[model.ID]int{}
	var visited []string
	err = New(m, Options{Prefetch: -1}).Walk(context.Background(), root, Visitor{
		Node: func(_ model.ID, p string, n *model.Node) error {
			visited = append(visited, p)
			return nil
		},
		Enter: func(p string, n *model.Node) bool { return p != "/a" },
	})
	if err != nil {
		t.Fatal(err)
	}
	aID := m.treeAt(t, root, "a")
	if m.loads[aID] != 0 || slices.Contains(visited, "/a") || slices.Contains(visited, "/a/x") || !slices.Contains(visited, "/c/f1") {
		t.Errorf("passing /a by: loaded %d times, visited %q", m.loads[aID], visited)
	}
	// skipping the root walks nothing
	got, err = record(New(m, Options{}), root, map[string]error{"/": ErrSkipNode})
	if err != nil || !slices.Equal(got, []string{"root /"}) {
		t.Errorf("skip at root: %q, %v", got, err)
	}
	// other errors end the walk and are returned as they are
	stop := errors.New("stop")
	got, err = record(New(m, Options{}), root, map[string]error{"/b": stop})
	if !errors.Is(err, stop) || got[len(got)-1] != "file /b" {
		t.Errorf("error at /b: %v after %q", err, got)
	}
}

func TestWalkCachesTrees(t *testing.T) {
	m := newMemBlobs()
	root := m.makeTree(t, testTree)
	w := New(m, Options{})
	for range 3 {
		if _, err := record(w, root, nil); err != nil {
			t.Fatal(err)
		}
	}
	for id, n := range m.loads {
		if n != 1 {
			t.Errorf("tree %s loaded %d times, want once", id.Str(), n)
		}
	}
	if len(m.loads) != len(m.blobs) {
		t.Errorf("%d trees loaded, want %d", len(m.loads), len(m.blobs))
	}
}

func TestWalkTreeErrors(t *testing.T) {
	m := newMemBlobs()
	root := m.makeTree(t, testTree)
	var cID model.ID
	if buf, ok := m.blobs[root]; ok {
		tr, _ := model.DecodeTree(buf)
		cID = *tr.Find("c").Subtree
	}
	m.fail[cID] = true

	// without TreeError the walk fails with the load error
	_, err := record(New(m, Options{}), root, nil)
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("walk over a damaged tree: %v", err)
	}

	// with TreeError the tree is skipped and the walk goes on
	var reported []string
	var got []string
	err = New(m, Options{}).Walk(context.Background(), root, Visitor{
		Node: func(_ model.ID, p string, n *model.Node) error {
			got = append(got, p)
			return nil
		},
		TreeError: func(parent model.ID, p string, n *model.Node, err error) error {
			reported = append(reported, fmt.Sprintf("%v %s %v", parent == root, p, n != nil))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reported, []string{"true /c true"}) {
		t.Errorf("reported %q", reported)
	}
	// the directory whose tree did not load is not visited, as in restic
	if slices.Contains(got, "/c") || slices.Contains(got, "/c/f1") || !slices.Contains(got, "/same/deep") {
		t.Errorf("walk after damaged tree: %q", got)
	}

	// a damaged root goes to TreeError with node nil
	m.fail[root] = true
	var rootErr bool
	err = New(m, Options{}).Walk(context.Background(), root, Visitor{
		Node: func(model.ID, string, *model.Node) error { return nil },
		TreeError: func(_ model.ID, p string, n *model.Node, err error) error {
			rootErr = p == "/" && n == nil
			return err
		},
	})
	if err == nil || !rootErr {
		t.Errorf("damaged root: err %v, reported %v", err, rootErr)
	}
}

func TestWalkCancel(t *testing.T) {
	m := newMemBlobs()
	root := m.makeTree(t, testTree)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := New(m, Options{}).Walk(ctx, root, Visitor{
		Node: func(model.ID, string, *model.Node) error {
			n++
			if n == 3 {
				cancel()
			}
			return nil
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("walk after cancel: %v", err)
	}
}

// TestLoaderConcurrent loads the same trees from many goroutines with
// prefetching; run with -race.
func TestLoaderConcurrent(t *testing.T) {
	m := newMemBlobs()
	root := m.makeTree(t, testTree)
	l := NewTreeLoader(m, LoaderOptions{Workers: 2})
	w := New(m, Options{Loader: l, Prefetch: 2})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := record(w, root, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for id, n := range m.loads {
		if n != 1 {
			t.Errorf("tree %s loaded %d times", id.Str(), n)
		}
	}
}

func TestLoaderBudget(t *testing.T) {
	m := newMemBlobs()
	var ids []model.ID
	for i := range 10 {
		ids = append(ids, m.makeTree(t, tree{fmt.Sprintf("file-%d", i): nil}))
	}
	first, err := model.DecodeTree(m.blobs[ids[0]])
	if err != nil {
		t.Fatal(err)
	}
	size := model.EncodedTreeSize(first.Nodes) // the trees are alike
	l := NewTreeLoader(m, LoaderOptions{CacheBytes: 3 * size})
	ctx := context.Background()
	for _, id := range ids {
		if _, err := l.Load(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if l.size > 3*size {
		t.Errorf("cache holds %d bytes, budget %d", l.size, 3*size)
	}
	// the most recent ones are cached, the first is not
	before := m.total.Load()
	if _, err := l.Load(ctx, ids[9]); err != nil {
		t.Fatal(err)
	}
	if m.total.Load() != before {
		t.Errorf("recent tree loaded again")
	}
	if _, err := l.Load(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if m.total.Load() != before+1 {
		t.Errorf("evicted tree not loaded again")
	}
}

// treeSource is a memBlobs that also loads trees itself, marking them.
type treeSource struct {
	*memBlobs
	loadTrees atomic.Int64
}

func (s *treeSource) LoadTree(ctx context.Context, id model.ID) (*model.Tree, error) {
	s.loadTrees.Add(1)
	buf, err := s.LoadBlob(ctx, model.TreeBlob, id, nil)
	if err != nil {
		return nil, err
	}
	t, err := model.DecodeTree(buf)
	if err == nil {
		t.Nodes = append(t.Nodes, &model.Node{Name: "~from LoadTree", Type: model.NodeTypeFile})
	}
	return t, err
}

// TestLoaderUsesTreeSource: a TreeLoader on a TreeSource loads every tree
// through its LoadTree.
func TestLoaderUsesTreeSource(t *testing.T) {
	m := newMemBlobs()
	root := m.makeTree(t, tree{"a": tree{"b": nil}, "c": nil})
	src := &treeSource{memBlobs: m}
	var names []string
	err := Walk(context.Background(), src, root, Visitor{Node: func(_ model.ID, p string, n *model.Node) error {
		if n != nil {
			names = append(names, p)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.loadTrees.Load(); got != 2 || m.total.Load() != 2 {
		t.Errorf("%d trees loaded through LoadTree, %d blobs loaded, want 2 and 2", got, m.total.Load())
	}
	if !slices.Contains(names, "/a/~from LoadTree") {
		t.Errorf("walked %q, not the trees LoadTree gave", names)
	}
}
