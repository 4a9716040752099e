package archiver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/arca-backup/arca/repo/fsnode"
	"github.com/arca-backup/arca/repo/model"
)

// TestLstatAtMatchesLstat: looking an entry up in its open directory gives
// what lstat by path gives, for every kind of entry, and a missing entry
// fails the way os.Lstat fails.
func TestLstatAtMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file"), []byte("content"))
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dirfd := int(d.Fd())
	for _, name := range []string{"file", "dir", "link", "fifo"} {
		p := filepath.Join(dir, name)
		want, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lstatAt(dirfd, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := fsnode.StatOf(want); got != w {
			t.Errorf("%s: lstatAt gives %+v, lstat %+v", name, got, w)
		}
		if got.Mode != want.Mode() || got.Size != want.Size() {
			t.Errorf("%s: mode %v, size %d; lstat: %v, %d", name, got.Mode, got.Size, want.Mode(), want.Size())
		}
	}
	p := filepath.Join(dir, "missing")
	_, err = lstatAt(dirfd, p)
	var pe *os.PathError
	if !isNotExist(err) || !errors.As(err, &pe) || pe.Path != p {
		t.Errorf("missing entry: %v, want a path error for %s that is ErrNotExist", err, p)
	}
}

// TestWalkLooksUpInOpenDirectory: the walk looks a directory's entries up
// in the directory it listed, so a directory moved away while its entries
// are visited still gives all of them (by path they would have vanished).
func TestWalkLooksUpInOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	for _, name := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(sub, name), []byte(name))
	}
	m := newMemRepo()
	a, err := New(m, m, testPol, Options{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := a.Snapshot(context.Background(), []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}

	moved := false
	a, err = New(m, m, testPol, Options{SelectByName: func(p string) bool {
		if !moved && p == filepath.Join(sub, "a") {
			moved = true
			if err := os.Rename(sub, filepath.Join(dir, "moved")); err != nil {
				t.Error(err)
			}
		}
		return true
	}}, Callbacks{Error: func(item string, err error) error {
		t.Errorf("%s: %v", item, err)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	second, sum, err := a.Snapshot(context.Background(), []string{dir}, &first)
	if err != nil {
		t.Fatal(err)
	}
	if !moved {
		t.Fatal("the directory was not moved during the walk")
	}
	tree, err := m.LoadTree(context.Background(), *lookup(t, m, second, sub).Subtree)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range tree.Nodes {
		names = append(names, n.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("the moved directory's tree holds %q, want a, b and c", names)
	}
	if sum.Files.Unchanged != 3 {
		t.Errorf("%d unchanged files, want 3", sum.Files.Unchanged)
	}
}

// TestDeepTree: below dirsKeptOpen levels the walk looks entries up by
// path; a tree deeper than that is stored whole, found unchanged on the
// next run, and the walk leaves no directory open.
func TestDeepTree(t *testing.T) {
	dir := t.TempDir()
	depth := dirsKeptOpen + 6
	p := dir
	var files []string
	for i := range depth {
		p = filepath.Join(p, "d")
		f := filepath.Join(p, "f")
		writeFile(t, f, []byte(strings.Repeat("x", i+1)))
		files = append(files, f)
	}
	before := openFiles(t)
	m := newMemRepo()
	var parent *model.ID
	for run := range 2 {
		a, err := New(m, m, testPol, Options{}, Callbacks{})
		if err != nil {
			t.Fatal(err)
		}
		root, sum, err := a.Snapshot(context.Background(), []string{dir}, parent)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			n := lookup(t, m, root, f)
			if got := string(content(t, m, n)); got != strings.Repeat("x", i+1) {
				t.Fatalf("run %d: %s holds %q", run, f, got)
			}
		}
		want := ChangeStats{New: uint(depth)}
		if run == 1 {
			want = ChangeStats{Unchanged: uint(depth)}
		}
		if sum.Files != want {
			t.Errorf("run %d: files %+v, want %+v", run, sum.Files, want)
		}
		parent = &root
	}
	if after := openFiles(t); after != before {
		t.Errorf("%d open files after the backups, %d before", after, before)
	}
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(fds)
}
