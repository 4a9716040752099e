package archiver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

// treeOffers records the number of nodes of every tree blob offered to
// SaveBlob.
func treeOffers() *recorder[int] {
	return newRecorder(func(t model.BlobType, buf []byte, _ model.ID) (int, bool) {
		if t != model.TreeBlob {
			return 0, false
		}
		tree, err := model.DecodeTree(buf)
		if err != nil {
			return -1, true
		}
		return len(tree.Nodes), true
	})
}

// largest returns the most nodes of a tree offered since the last call.
func largest(r *recorder[int]) int {
	most := 0
	for _, n := range r.values() {
		most = max(most, n)
	}
	r.reset()
	return most
}

// TestLargeDirectoryRerun backs up a directory of more files than
// hashFirstNodes three times. Unchanged, its tree is recognised by its ID
// without the blob being made; with one file changed, and with one file's
// mode changed (which --ignore-ctime does not look at, so the file is not
// read again and its node is not the parent's), the new tree is stored with the change and the other nodes
// as they were.
func TestLargeDirectoryRerun(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	files := hashFirstNodes + 100
	for i := range files {
		writeFile(t, filepath.Join(big, fmt.Sprintf("f%05d", i)), []byte(fmt.Sprintf("file %d", i)))
	}
	writeFile(t, filepath.Join(dir, "small", "a"), []byte("a"))
	repo := treeOffers()
	snapshot := func(opts Options, parent *model.ID) (model.ID, *Summary) {
		t.Helper()
		a, err := New(repo.memRepo, repo, testPol, opts, Callbacks{})
		if err != nil {
			t.Fatal(err)
		}
		root, sum, err := a.Snapshot(context.Background(), []string{dir}, parent)
		if err != nil {
			t.Fatal(err)
		}
		return root, sum
	}
	bigTree := func(root model.ID) *model.Tree {
		t.Helper()
		tree, err := repo.LoadTree(context.Background(), *lookup(t, repo.memRepo, root, big).Subtree)
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}

	first, _ := snapshot(Options{}, nil)
	if n := largest(repo); n != files {
		t.Fatalf("first backup: largest tree offered has %d nodes, want %d", n, files)
	}
	before := bigTree(first)

	second, sum := snapshot(Options{}, &first)
	if n := largest(repo); n >= hashFirstNodes {
		t.Errorf("unchanged re-run: a tree of %d nodes was encoded and offered", n)
	}
	if s1, s2 := lookup(t, repo.memRepo, first, big).Subtree, lookup(t, repo.memRepo, second, big).Subtree; *s1 != *s2 {
		t.Errorf("unchanged re-run: tree %v, want %v", s2.Str(), s1.Str())
	}
	if sum.Files.Unchanged != uint(files+1) || sum.Files.New+sum.Files.Changed != 0 {
		t.Errorf("unchanged re-run: summary %+v", sum)
	}

	changed := filepath.Join(big, "f00007")
	writeFile(t, changed, []byte("changed content"))
	chmodded := filepath.Join(big, "f00900")
	if err := os.Chmod(chmodded, 0o600); err != nil {
		t.Fatal(err)
	}
	third, sum := snapshot(Options{IgnoreCtime: true}, &second)
	if n := largest(repo); n != files {
		t.Errorf("changed re-run: largest tree offered has %d nodes, want %d", n, files)
	}
	// the chmodded file counts as unchanged, as in restic
	if sum.Files.Changed != 1 || sum.Files.Unchanged != uint(files) {
		t.Errorf("changed re-run: %d changed, %d unchanged files, want 1 and %d", sum.Files.Changed, sum.Files.Unchanged, files)
	}
	after := bigTree(third)
	if len(after.Nodes) != len(before.Nodes) {
		t.Fatalf("changed re-run: %d nodes, want %d", len(after.Nodes), len(before.Nodes))
	}
	for i, n := range after.Nodes {
		old := before.Nodes[i]
		switch n.Name {
		case "f00007":
			if got := content(t, repo.memRepo, n); string(got) != "changed content" {
				t.Errorf("changed file stored as %q", got)
			}
		case "f00900":
			if n.Mode != 0o600 || !bytes.Equal(content(t, repo.memRepo, n), []byte("file 900")) {
				t.Errorf("chmodded file: mode %v, content %q", n.Mode, content(t, repo.memRepo, n))
			}
		default:
			if !sameNode(n, old) {
				t.Errorf("%s: node differs from the first backup's", n.Name)
			}
		}
	}
}
