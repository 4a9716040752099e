package archiver

import (
	"context"
	"errors"
	"fmt"
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
// directly; a subtree named in two directories being walked is loaded once
// for the first that asks and directly for the other; dropping forgets
// what was not taken.
func TestTreePrefetch(t *testing.T) {
	ctx := context.Background()
	a, b, c, shared := model.Hash([]byte("a")), model.Hash([]byte("b")), model.Hash([]byte("c")), model.Hash([]byte("s"))
	l := &countingLoader{calls: map[model.ID]int{}, fail: map[model.ID]bool{b: true}}
	p := newTreePrefetch(l.load)
	file := &model.Node{Name: "f", Type: model.NodeTypeFile, Content: model.IDs{c}}
	drop1 := p.start(ctx, &model.Tree{Nodes: []*model.Node{dirNode("a", a), dirNode("b", b), file, dirNode("s", shared)}})
	drop2 := p.start(ctx, &model.Tree{Nodes: []*model.Node{dirNode("s", shared)}})
	for _, id := range []model.ID{a, b, shared, shared} {
		tr, err := p.get(ctx, id)
		if err != nil || tr.Nodes[0].Name != id.Str() {
			t.Fatalf("get %v: %v %v", id.Str(), tr, err)
		}
	}
	if l.count(a) != 1 || l.count(shared) != 2 || l.count(c) != 0 {
		t.Fatalf("loads: a %d, shared %d, file content %d; want 1, 2, 0", l.count(a), l.count(shared), l.count(c))
	}
	if l.count(b) != 2 {
		t.Fatalf("failed background load of b repeated %d times, want loaded twice in all", l.count(b))
	}
	drop1()
	drop2()
	if len(p.pending) != 0 || len(p.dirs) != 0 {
		t.Fatalf("%d loads and %d directories left after both directories are done", len(p.pending), len(p.dirs))
	}
	if _, err := p.get(ctx, c); err != nil || l.count(c) != 1 {
		t.Fatalf("a tree not prefetched must load directly: %v, %d loads", err, l.count(c))
	}
}

func dirNode(name string, id model.ID) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeDir, Subtree: &id}
}

// TestTreePrefetchWindow: in a wide directory only `ahead` subtrees are
// prefetched and not yet taken at any time; taking one starts the next;
// asking for a later one drops the loads the walk passed by (entries that
// are gone) and moves the window past it; each subtree is loaded once.
func TestTreePrefetchWindow(t *testing.T) {
	ctx := context.Background()
	l := &countingLoader{calls: map[model.ID]int{}}
	p := newTreePrefetch(l.load)
	var ids []model.ID
	var prev model.Tree
	for i := range 100 {
		id := model.Hash([]byte{byte(i)})
		ids = append(ids, id)
		prev.Nodes = append(prev.Nodes, dirNode(fmt.Sprintf("d%03d", i), id))
	}
	outstanding := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.pending)
	}
	drop := p.start(ctx, &prev)
	if n := outstanding(); n != p.ahead {
		t.Fatalf("%d subtrees prefetched on entering, want %d", n, p.ahead)
	}
	for i := range 10 {
		if _, err := p.get(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
		if n := outstanding(); n != p.ahead {
			t.Fatalf("after taking %d: %d outstanding, want %d", i+1, n, p.ahead)
		}
	}
	// entries 10-49 are gone: the walk asks for 50 next
	if _, err := p.get(ctx, ids[50]); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	for id, ld := range p.pending {
		if ld.pos <= 50 {
			t.Errorf("load of entry %d (%v) kept after the walk passed it", ld.pos, id.Str())
		}
	}
	p.mu.Unlock()
	for i := 51; i < 100; i++ {
		if _, err := p.get(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	drop()
	if n := outstanding(); n != 0 {
		t.Fatalf("%d loads left after the directory is done", n)
	}
	for i, id := range ids {
		if n := l.count(id); n > 1 || (n == 0 && (i < 10 || i >= 50)) {
			t.Errorf("entry %d loaded %d times", i, n)
		}
	}
}
