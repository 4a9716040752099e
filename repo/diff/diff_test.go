package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo/model"
)

// memSource holds trees and blob sizes in memory.
type memSource struct {
	trees  map[model.ID]*model.Tree
	sizes  map[model.BlobHandle]uint
	broken map[model.ID]bool
	loads  int
}

func newMemSource() *memSource {
	return &memSource{trees: map[model.ID]*model.Tree{}, sizes: map[model.BlobHandle]uint{}, broken: map[model.ID]bool{}}
}

func (s *memSource) LoadTree(_ context.Context, id model.ID) (*model.Tree, error) {
	s.loads++
	if s.broken[id] {
		return nil, fmt.Errorf("load tree %s: broken", id.Str())
	}
	t, ok := s.trees[id]
	if !ok {
		return nil, fmt.Errorf("load tree %s: not found", id.Str())
	}
	return t, nil
}

func (s *memSource) BlobSize(h model.BlobHandle) (uint, bool) {
	n, ok := s.sizes[h]
	return n, ok
}

// tree stores a tree of nodes (sorted by the caller) and returns its ID.
func (s *memSource) tree(t *testing.T, nodes ...*model.Node) model.ID {
	t.Helper()
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	id := model.Hash(buf)
	s.trees[id] = &model.Tree{Nodes: nodes}
	s.sizes[model.BlobHandle{ID: id, Type: model.TreeBlob}] = uint(len(buf))
	return id
}

// data registers a data blob of the given size.
func (s *memSource) data(name string, size uint) model.ID {
	id := model.Hash([]byte(name))
	s.sizes[model.BlobHandle{ID: id, Type: model.DataBlob}] = size
	return id
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func file(name string, content ...model.ID) *model.Node {
	if content == nil {
		content = model.IDs{}
	}
	return &model.Node{Name: name, Type: model.NodeTypeFile, Mode: 0o644, ModTime: t0, Size: uint64(len(content)), Content: content, Links: 1}
}

func dir(name string, sub model.ID) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeDir, Mode: 0o755, ModTime: t0, Subtree: &sub}
}

func symlink(name, target string) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeSymlink, Mode: 0o777, ModTime: t0, LinkTarget: target}
}

func collect(t *testing.T, src Source, a, b model.ID, metadata bool) (string, Result, []error) {
	t.Helper()
	var lines []string
	var errs []error
	res, err := Trees(context.Background(), src, a, b, Options{
		Metadata: metadata,
		OnChange: func(c Change) { lines = append(lines, c.Modifier+" "+c.Path) },
		OnError:  func(err error) { errs = append(errs, err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n"), res, errs
}

func TestTreesMarkers(t *testing.T) {
	s := newMemSource()
	b1, b2, b3, shared := s.data("1", 100), s.data("2", 200), s.data("3", 300), s.data("shared", 1000)

	common := s.tree(t, file("c", shared))
	oldSub := s.tree(t, file("x", b1))
	newSub := s.tree(t, file("x", b1), file("y", b2))

	touched := file("meta", b1)
	touched2 := *touched
	touched2.ModTime = t0.Add(time.Second)

	bitrot := file("rot", b1)
	bitrot2 := *bitrot
	bitrot2.Content = model.IDs{b2}

	emptyA := file("empty")
	emptyB := *emptyA
	emptyB.Content = nil // nil and empty content differ for diff

	before := s.tree(t,
		dir("common", common),
		emptyA,
		file("gone", shared),
		touched,
		file("mod", b1),
		dir("old", oldSub),
		bitrot,
		dir("sub", oldSub),
		file("tochange", b1),
	)
	after := s.tree(t,
		dir("common", common),
		&emptyB,
		&touched2,
		&model.Node{Name: "mod", Type: model.NodeTypeFile, Mode: 0o600, ModTime: t0, Size: 1, Content: model.IDs{b3}, Links: 1},
		dir("new", newSub),
		&bitrot2,
		dir("sub", newSub),
		symlink("tochange", "x"),
	)

	out, res, errs := collect(t, s, before, after, false)
	want := strings.Join([]string{
		"M? /empty",
		"- /gone",
		"M /mod",
		"+ /new/",
		"+ /new/x",
		"+ /new/y",
		"- /old/",
		"- /old/x",
		"M? /rot",
		"+ /sub/y",
		"T /tochange",
	}, "\n")
	if out != want {
		t.Errorf("changes:\n%s\nwant:\n%s", out, want)
	}
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	if res.ChangedFiles != 3 {
		t.Errorf("changed files %d, want 3", res.ChangedFiles)
	}
	if res.Added.Files != 3 || res.Added.Dirs != 1 || res.Added.Others != 0 ||
		res.Removed.Files != 2 || res.Removed.Dirs != 1 || res.Removed.Others != 0 {
		t.Errorf("counts: %+v", res)
	}
	// data: b2 and b3 are new, b1 stays; "shared" loses its file but is
	// still referenced by the identical subtree, so it is not removed.
	if res.Added.DataBlobs != 2 || res.Removed.DataBlobs != 0 {
		t.Errorf("data blobs: added %d removed %d, want 2 and 0", res.Added.DataBlobs, res.Removed.DataBlobs)
	}
	wantAddedBytes := uint64(200 + 300)
	treeBytes := func(id model.ID) uint64 { return uint64(s.sizes[model.BlobHandle{ID: id, Type: model.TreeBlob}]) }
	wantAddedBytes += treeBytes(after) + treeBytes(newSub)
	if res.Added.TreeBlobs != 2 || res.Added.Bytes != wantAddedBytes {
		t.Errorf("added trees %d bytes %d, want 2 and %d", res.Added.TreeBlobs, res.Added.Bytes, wantAddedBytes)
	}
	if res.Removed.TreeBlobs != 2 || res.Removed.Bytes != treeBytes(before)+treeBytes(oldSub) {
		t.Errorf("removed trees %d bytes %d", res.Removed.TreeBlobs, res.Removed.Bytes)
	}

	out, _, _ = collect(t, s, before, after, true)
	// "M" and "U" exclude each other, as in restic
	for _, w := range []string{"U /meta", "M /mod", "TU /tochange", "U /sub/"} {
		if !strings.Contains(out+"\n", "\n"+w+"\n") && !strings.HasPrefix(out, w+"\n") {
			t.Errorf("--metadata output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "/common") {
		t.Errorf("identical subtree reported:\n%s", out)
	}
}

func TestTreesIdentical(t *testing.T) {
	s := newMemSource()
	sub := s.tree(t, file("f", s.data("a", 1)))
	root := s.tree(t, dir("a", sub), dir("b", sub))
	out, res, _ := collect(t, s, root, root, true)
	if out != "" || res != (Result{}) {
		t.Errorf("identical trees: %q %+v", out, res)
	}
	// the shared subtree is collected once, not once per occurrence
	s.loads = 0
	collect(t, s, root, root, false)
	if s.loads != 3 {
		t.Errorf("%d tree loads, want 3 (root twice, subtree once)", s.loads)
	}
}

func TestTreesErrors(t *testing.T) {
	s := newMemSource()
	bad := s.tree(t, file("hidden", s.data("h", 5)))
	s.broken[bad] = true
	good := s.tree(t, file("f", s.data("f", 5)))
	a := s.tree(t, dir("d", good))
	b := s.tree(t, dir("d", bad), file("z", s.data("z", 5)))
	out, _, errs := collect(t, s, a, b, false)
	if out != "+ /z" {
		t.Errorf("changes %q, want only + /z", out)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "broken") {
		t.Errorf("errors: %v", errs)
	}

	// a blob without a size is reported and counted without bytes
	delete(s.sizes, model.BlobHandle{ID: s.data("z", 5), Type: model.DataBlob})
	_, res, errs := collect(t, s, a, b, false)
	found := false
	for _, err := range errs {
		found = found || errors.Is(err, ErrBlobSizeUnknown)
	}
	if !found || res.Added.DataBlobs != 1 {
		t.Errorf("missing size: errs %v, added %+v", errs, res.Added)
	}

	// a root that cannot be loaded ends the comparison
	s.broken[a] = true
	if _, err := Trees(context.Background(), s, a, b, Options{}); err == nil {
		t.Error("broken root: no error")
	}
}
