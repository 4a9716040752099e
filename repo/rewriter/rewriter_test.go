package rewriter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
)

// memRepo is an in-memory blob store: loader, saver and index.
type memRepo struct {
	blobs map[model.BlobHandle][]byte
	saved int // blobs added by SaveBlob
}

func newMemRepo() *memRepo { return &memRepo{blobs: map[model.BlobHandle][]byte{}} }

func (m *memRepo) LoadBlob(_ context.Context, t model.BlobType, id model.ID, _ []byte) ([]byte, error) {
	b, ok := m.blobs[model.BlobHandle{ID: id, Type: t}]
	if !ok {
		return nil, fmt.Errorf("blob %v not found", id.Str())
	}
	return b, nil
}

func (m *memRepo) SaveBlob(_ context.Context, t model.BlobType, buf []byte, id model.ID) (model.ID, bool, int, error) {
	if id.IsNull() {
		id = model.Hash(buf)
	}
	h := model.BlobHandle{ID: id, Type: t}
	if _, ok := m.blobs[h]; ok {
		return id, true, 0, nil
	}
	m.blobs[h] = append([]byte(nil), buf...)
	m.saved++
	return id, false, len(buf), nil
}

func (m *memRepo) Size(h model.BlobHandle) (uint, bool) {
	b, ok := m.blobs[h]
	return uint(len(b)), ok
}

func (m *memRepo) data(t *testing.T, s string) model.ID {
	t.Helper()
	id, _, _, _ := m.SaveBlob(context.Background(), model.DataBlob, []byte(s), model.ID{})
	return id
}

func (m *memRepo) tree(t *testing.T, nodes ...*model.Node) model.ID {
	t.Helper()
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _, _ := m.SaveBlob(context.Background(), model.TreeBlob, buf, model.ID{})
	return id
}

func (m *memRepo) load(t *testing.T, id model.ID) *model.Tree {
	t.Helper()
	buf, err := m.LoadBlob(context.Background(), model.TreeBlob, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := model.DecodeTree(buf)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func file(name string, content ...model.ID) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeFile, Size: uint64(len(content)) * 3, Content: content, Mode: 0o644}
}

func dir(name string, sub model.ID) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeDir, Mode: 0o755, Subtree: &sub}
}

// names lists a tree's entries recursively as "path" lines.
func names(t *testing.T, m *memRepo, id model.ID, prefix string) []string {
	var out []string
	for _, n := range m.load(t, id).Nodes {
		p := prefix + "/" + n.Name
		out = append(out, p)
		if n.Type == model.NodeTypeDir {
			out = append(out, names(t, m, *n.Subtree, p)...)
		}
	}
	return out
}

// sample is /a.txt, /d/b.log, /d/c.txt, /d/e (empty dir), /x.txt with
// 3-byte data blobs.
func sample(t *testing.T) (*memRepo, model.ID) {
	m := newMemRepo()
	a, b, c, x := m.data(t, "aaa"), m.data(t, "bbb"), m.data(t, "ccc"), m.data(t, "xxx")
	e := m.tree(t)
	d := m.tree(t, file("b.log", b), file("c.txt", c), dir("e", e))
	root := m.tree(t, file("a.txt", a), dir("d", d), file("x.txt", x, a))
	m.saved = 0
	return m, root
}

func TestUnchangedTreeKeepsID(t *testing.T) {
	m, root := sample(t)
	rw, size := NewCounting(nil, nil)
	got, err := rw.RewriteTree(context.Background(), m, m, "/", root)
	if err != nil || got != root {
		t.Fatalf("rewrite without changes: %v, %v; want %v", got.Str(), err, root.Str())
	}
	if m.saved != 0 {
		t.Errorf("%d new blobs for an unchanged tree", m.saved)
	}
	if s := size(); s.Files != 4 || s.Bytes != 3+3+3+6 {
		t.Errorf("size %+v, want 4 files, 15 bytes", s)
	}
}

func TestExcludeNodes(t *testing.T) {
	m, root := sample(t)
	var excluded []string
	node := ExcludeNodes([]filter.RejectFunc{filter.RejectByPattern([]string{"*.log", "/x.txt"}, nil)}, func(p string) { excluded = append(excluded, p) })
	rw, size := NewCounting(node, nil)
	got, err := rw.RewriteTree(context.Background(), m, m, "/", root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/a.txt /d /d/c.txt /d/e"; strings.Join(names(t, m, got, ""), " ") != want {
		t.Errorf("tree %v, want %s", names(t, m, got, ""), want)
	}
	if strings.Join(excluded, " ") != "/d/b.log /x.txt" {
		t.Errorf("excluded %v", excluded)
	}
	if s := size(); s.Files != 2 || s.Bytes != 6 {
		t.Errorf("size %+v, want 2 files, 6 bytes", s)
	}
	// the unchanged empty directory kept its tree
	d := m.load(t, got).Nodes[1]
	if e := m.load(t, *d.Subtree).Nodes[1]; *e.Subtree != m.tree(t) {
		t.Errorf("empty dir subtree changed")
	}
}

func TestIncludeNodes(t *testing.T) {
	m, root := sample(t)
	for _, c := range []struct {
		patterns []string
		want     string
	}{
		{[]string{"/d/c.txt"}, "/d /d/c.txt"},
		{[]string{"*.txt"}, "/a.txt /d /d/c.txt /x.txt"},
		// an empty directory stays only when it matches itself
		{[]string{"/d/e"}, "/d /d/e"},
		{[]string{"/d"}, "/d /d/b.log /d/c.txt /d/e"},
	} {
		node, keep := IncludeNodes([]filter.IncludeFunc{filter.IncludeByPattern(c.patterns, nil)}, nil, nil)
		got, err := New(Options{RewriteNode: node, KeepEmptyDirectory: keep}).RewriteTree(context.Background(), m, m, "/", root)
		if err != nil {
			t.Fatal(err)
		}
		if g := strings.Join(names(t, m, got, ""), " "); g != c.want {
			t.Errorf("include %v: %s, want %s", c.patterns, g, c.want)
		}
	}
	// nothing matches: the root is dropped
	node, keep := IncludeNodes([]filter.IncludeFunc{filter.IncludeByPattern([]string{"/nothing"}, nil)}, nil, nil)
	got, err := New(Options{RewriteNode: node, KeepEmptyDirectory: keep}).RewriteTree(context.Background(), m, m, "/", root)
	if err != nil || !got.IsNull() {
		t.Errorf("include matching nothing: %v, %v; want the null ID", got.Str(), err)
	}
}

func TestUnstableSerialization(t *testing.T) {
	m := newMemRepo()
	buf := []byte(`{"nodes":[{"name":"f","type":"file","future_field":1,"uid":0,"gid":0,"content":null}]}` + "\n")
	id, _, _, _ := m.SaveBlob(context.Background(), model.TreeBlob, buf, model.ID{})
	_, err := New(Options{}).RewriteTree(context.Background(), m, m, "/", id)
	if err == nil || !strings.Contains(err.Error(), `cannot encode tree at "/" without losing information`) {
		t.Errorf("unknown field: %v", err)
	}
	got, err := New(Options{AllowUnstableSerialization: true}).RewriteTree(context.Background(), m, m, "/", id)
	if err != nil || got == id {
		t.Errorf("with AllowUnstableSerialization: %v, %v", got.Str(), err)
	}
}

func TestRepairer(t *testing.T) {
	m, root := sample(t)
	// lose the data blob "bbb" and the tree of /broken
	delete(m.blobs, model.BlobHandle{ID: model.Hash([]byte("bbb")), Type: model.DataBlob})
	lost := m.tree(t, file("z"))
	root2 := m.tree(t, dir("broken", lost), dir("d", *m.load(t, root).Nodes[1].Subtree), &model.Node{Name: "odd", Type: model.NodeTypeIrregular},
		&model.Node{Name: "w", Type: model.NodeTypeFile, Size: 10, Content: model.IDs{model.Hash([]byte("aaa"))}})
	delete(m.blobs, model.BlobHandle{ID: lost, Type: model.TreeBlob})

	var events []string
	rw := NewRepairer(m, RepairEvents{
		InvalidNode:    func(p string, nt model.NodeType) { events = append(events, "invalid "+p+" "+string(nt)) },
		MissingContent: func(p string) { events = append(events, "missing "+p) },
		FixedSize:      func(p string) { events = append(events, "size "+p) },
		UnreadableRoot: func(p string) { events = append(events, "root "+p) },
		EmptiedDir:     func(p string) { events = append(events, "emptied "+p) },
	})
	ctx := context.Background()
	got, err := rw.RewriteTree(ctx, m, m, "/", root2)
	if err != nil {
		t.Fatal(err)
	}
	want := "emptied /broken|missing /d/b.log|invalid /odd irregular|size /w"
	if strings.Join(events, "|") != want {
		t.Errorf("events %q, want %q", strings.Join(events, "|"), want)
	}
	tr := m.load(t, got)
	if len(tr.Nodes) != 3 || tr.Nodes[0].Name != "broken" || tr.Nodes[2].Size != 3 || len(m.load(t, *tr.Nodes[0].Subtree).Nodes) != 0 {
		t.Fatalf("repaired tree: %v", names(t, m, got, ""))
	}
	b := m.load(t, *tr.Nodes[1].Subtree).Nodes[0]
	if b.Content == nil || len(b.Content) != 0 || b.Size != 0 {
		t.Errorf("file with missing content: %+v", b)
	}

	// a repaired tree is reused without new reports; a missing root is dropped
	events = nil
	if again, err := rw.RewriteTree(ctx, m, m, "/", root2); err != nil || again != got || len(events) != 0 {
		t.Errorf("second rewrite: %v, %v, events %v", again.Str(), err, events)
	}
	gone, err := rw.RewriteTree(ctx, m, m, "/", lost)
	if err != nil || !gone.IsNull() || strings.Join(events, "|") != "root /" {
		t.Errorf("missing root: %v, %v, events %v", gone.Str(), err, events)
	}

	// without a failed-tree function a missing tree is an error
	if _, err := New(Options{}).RewriteTree(ctx, m, m, "/", lost); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("missing tree without handler: %v", err)
	}
}
