package archiver

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

// countingLoader loads trees named by ID, counting calls; failing IDs fail
// on their first load.
type countingLoader struct {
	mu    sync.Mutex
	calls map[model.ID]int
	fail  map[model.ID]bool
}

func (c *countingLoader) load(_ context.Context, id model.ID) (*model.Tree, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[id]++
	if c.fail[id] && c.calls[id] == 1 {
		return nil, errors.New("transient")
	}
	return &model.Tree{Nodes: []*model.Node{{Name: id.Str()}}}, nil
}

func (c *countingLoader) count(id model.ID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// TestTreePrefetch: entering a directory starts loads of its entries'
// subtrees (directories only); the walk gets each without loading again;
// a failed background load is repeated when asked for; unknown trees load
// directly; dropping forgets what was not taken, and a subtree named in
// two directories being walked stays until both are done.
func TestTreePrefetch(t *testing.T) {
	ctx := context.Background()
	a, b, c, shared := model.Hash([]byte("a")), model.Hash([]byte("b")), model.Hash([]byte("c")), model.Hash([]byte("s"))
	l := &countingLoader{calls: map[model.ID]int{}, fail: map[model.ID]bool{b: true}}
	p := newTreePrefetch(l.load)
	dir := func(name string, id model.ID) *model.Node {
		return &model.Node{Name: name, Type: model.NodeTypeDir, Subtree: &id}
	}
	file := &model.Node{Name: "f", Type: model.NodeTypeFile, Content: model.IDs{c}}
	drop1 := p.start(ctx, &model.Tree{Nodes: []*model.Node{dir("a", a), dir("b", b), file, dir("s", shared)}})
	drop2 := p.start(ctx, &model.Tree{Nodes: []*model.Node{dir("s", shared)}})
	for _, id := range []model.ID{a, b, shared} {
		tr, err := p.get(ctx, id)
		if err != nil || tr.Nodes[0].Name != id.Str() {
			t.Fatalf("get %v: %v %v", id.Str(), tr, err)
		}
	}
	if l.count(a) != 1 || l.count(shared) != 1 || l.count(c) != 0 {
		t.Fatalf("loads: a %d, shared %d, file content %d; want 1, 1, 0", l.count(a), l.count(shared), l.count(c))
	}
	if l.count(b) != 2 {
		t.Fatalf("failed background load of b repeated %d times, want loaded twice in all", l.count(b))
	}
	drop1()
	if _, ok := p.pending[shared]; !ok {
		t.Fatal("a subtree still named by a directory being walked was dropped")
	}
	if _, ok := p.pending[a]; ok {
		t.Fatal("dropping kept a subtree no directory names")
	}
	drop2()
	if len(p.pending) != 0 {
		t.Fatalf("%d loads left after both directories are done", len(p.pending))
	}
	if _, err := p.get(ctx, c); err != nil || l.count(c) != 1 {
		t.Fatalf("a tree not prefetched must load directly: %v, %d loads", err, l.count(c))
	}
}
