package archiver

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/repo/model"
	"golang.org/x/sys/unix"
)

// withNode returns the root of a copy of the snapshot tree root in which
// the node at the absolute path p has been changed by edit.
func withNode(t *testing.T, m *memRepo, root model.ID, p string, edit func(*model.Node)) model.ID {
	t.Helper()
	var rebuild func(id model.ID, names []string) model.ID
	rebuild = func(id model.ID, names []string) model.ID {
		tree, err := m.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		n := tree.Find(names[0])
		if n == nil {
			t.Fatalf("%s: %q not found", p, names[0])
		}
		if len(names) == 1 {
			edit(n)
		} else {
			sub := rebuild(*n.Subtree, names[1:])
			n.Subtree = &sub
		}
		buf, err := model.EncodeTree(tree.Nodes)
		if err != nil {
			t.Fatal(err)
		}
		newID, _, _, err := m.SaveBlob(context.Background(), model.TreeBlob, buf, model.ID{})
		if err != nil {
			t.Fatal(err)
		}
		return newID
	}
	return rebuild(root, strings.Split(strings.Trim(p, "/"), "/"))
}

func xattrValue(n *model.Node, name string) string {
	for _, x := range n.ExtendedAttributes {
		if x.Name == name {
			return string(x.Value)
		}
	}
	return "(none)"
}

// TestUnchangedFileKeepsParentXattrs: the node of a file unchanged since
// the parent snapshot takes its extended attributes from the parent's
// node, without reading them again (a parent doctored to hold another
// value shows which was used), since setting one changes the file's
// ctime. With --ignore-ctime they are read from the file, and a real
// change of an attribute is seen.
func TestUnchangedFileKeepsParentXattrs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	writeFile(t, f, []byte("content"))
	const attr = "user.arca-test"
	if err := unix.Setxattr(f, attr, []byte("on-disk"), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			t.Skipf("no user extended attributes here: %v", err)
		}
		t.Fatal(err)
	}
	m := newMemRepo()
	var root model.ID
	snapshot := func(opts Options, parent *model.ID) (*model.Node, *Summary) {
		t.Helper()
		a, err := New(m, m, testPol, opts, Callbacks{})
		if err != nil {
			t.Fatal(err)
		}
		var sum *Summary
		root, sum, err = a.Snapshot(ctx, []string{dir}, parent)
		if err != nil {
			t.Fatal(err)
		}
		return lookup(t, m, root, f), sum
	}
	first, _ := snapshot(Options{}, nil)
	if got := xattrValue(first, attr); got != "on-disk" {
		t.Fatalf("first snapshot: %s is %q", attr, got)
	}
	firstRoot := root
	doctored := withNode(t, m, firstRoot, f, func(n *model.Node) {
		n.ExtendedAttributes = []model.ExtendedAttribute{{Name: attr, Value: []byte("from-parent")}}
	})

	n, sum := snapshot(Options{}, &doctored)
	if sum.Files.Unchanged != 1 {
		t.Fatalf("file not seen as unchanged: %+v", sum.Files)
	}
	if got := xattrValue(n, attr); got != "from-parent" {
		t.Errorf("unchanged file: %s is %q, want the parent's value", attr, got)
	}
	for _, opts := range []Options{{IgnoreCtime: true}, {IgnoreInode: true}} {
		// the content is not read again, and the file counts as
		// unchanged though its node differs from the doctored one
		// (restic 0.19.1 reports the parent's node for such a file)
		n, sum := snapshot(opts, &doctored)
		if sum.Files.Unchanged != 1 {
			t.Fatalf("%+v: file not counted as unchanged: %+v", opts, sum.Files)
		}
		if got := xattrValue(n, attr); got != "on-disk" {
			t.Errorf("%+v: %s is %q, want it read from the file", opts, attr, got)
		}
	}

	if err := unix.Setxattr(f, attr, []byte("changed"), 0); err != nil {
		t.Fatal(err)
	}
	n, _ = snapshot(Options{}, &firstRoot)
	if got := xattrValue(n, attr); got != "changed" {
		t.Errorf("after setxattr: %s is %q, want the new value", attr, got)
	}
}
