package local_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/backendtest"
	"github.com/arca-backup/arca/backend/local"
)

func newRepo(t *testing.T) *local.Backend {
	t.Helper()
	be, err := local.Create(context.Background(), filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return newRepo(t) })
}

func TestProperties(t *testing.T) {
	be := newRepo(t)
	p := be.Properties()
	if p.Connections != 2 || !p.HasAtomicReplace {
		t.Errorf("Properties = %+v, want 2 connections and atomic replace", p)
	}
	be.SetConnections(7)
	if be.Properties().Connections != 7 {
		t.Errorf("SetConnections had no effect")
	}
}

func TestOpenNoRepository(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, d := range []string{filepath.Join(dir, "missing"), dir} {
		_, err := local.Open(ctx, d)
		if !errors.Is(err, backend.ErrNoRepository) {
			t.Errorf("Open(%s) = %v, want ErrNoRepository", d, err)
		}
	}
	// Open must not create anything.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("Open created files: %v", entries)
	}

	be := newRepo(t)
	if _, err := local.Open(ctx, be.Dir()); !errors.Is(err, backend.ErrNoRepository) {
		t.Errorf("Open of a created repository without config = %v, want ErrNoRepository", err)
	}
	if err := be.Save(ctx, backend.Handle{Type: backend.ConfigFile}, backend.NewByteReader([]byte("cfg"))); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(ctx, be.Dir()); err != nil {
		t.Errorf("Open with config: %v", err)
	}
	if _, err := local.Create(ctx, be.Dir()); err == nil {
		t.Errorf("Create over an existing repository succeeded")
	}
}

// tree returns every path below dir (relative, slash-separated) with its
// permission bits; files are marked with a trailing "=f".
func tree(t *testing.T, dir string, withFiles bool) map[string]fs.FileMode {
	t.Helper()
	m := make(map[string]fs.FileMode)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !d.IsDir() && !withFiles {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m[filepath.ToSlash(rel)] = info.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLayout(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	dirs := tree(t, be.Dir(), false)
	want := []string{".", "data", "index", "keys", "locks", "snapshots"}
	for i := 0; i < 256; i++ {
		want = append(want, "data/"+string("0123456789abcdef"[i>>4])+string("0123456789abcdef"[i&15]))
	}
	got := make([]string, 0, len(dirs))
	for d := range dirs {
		got = append(got, d)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Create made directories %v, want %v", got, want)
	}
	umask := currentUmask(t)
	for d, mode := range dirs {
		if d == "." {
			continue
		}
		if want := fs.ModeDir | (0o700 &^ umask); mode != want {
			t.Errorf("directory %s has mode %v, want %v", d, mode, want)
		}
	}

	id := "4e54d2c721cbdb730f01b10b62dec622962b36966ec685880effa63d71c808f2"
	paths := map[backend.FileType]string{
		backend.ConfigFile:   "config",
		backend.PackFile:     "data/4e/" + id,
		backend.KeyFile:      "keys/" + id,
		backend.LockFile:     "locks/" + id,
		backend.SnapshotFile: "snapshots/" + id,
		backend.IndexFile:    "index/" + id,
	}
	for tpe, p := range paths {
		h := backend.Handle{Type: tpe, Name: id}
		if err := be.Save(ctx, h, backend.NewByteReader([]byte("x"))); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(be.Dir(), filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%v not at %s: %v", h, p, err)
			continue
		}
		if fi.Mode() != 0o400 {
			t.Errorf("%s has mode %v, want -r--------", p, fi.Mode())
		}
	}
}

func currentUmask(t *testing.T) fs.FileMode {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "probe")
	if err := os.Mkdir(p, 0o777); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}

// TestGroupModes checks that a group-readable config file makes new files
// group-readable, as restic does.
func TestGroupModes(t *testing.T) {
	ctx := context.Background()
	dir := newRepo(t).Dir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("cfg"), 0o440); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg, 0o440); err != nil {
		t.Fatal(err)
	}
	be, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := be.Modes(); m.Dir != 0o770 || m.File != 0o660 {
		t.Errorf("Modes = %o/%o, want 770/660", m.Dir, m.File)
	}
	h := backend.Handle{Type: backend.KeyFile, Name: "abcdef"}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("key"))); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "keys", "abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o440 {
		t.Errorf("key file mode %v, want -r--r-----", fi.Mode())
	}
}

// TestSaveCreatesMissingDir: a removed data subdirectory is recreated.
func TestSaveCreatesMissingDir(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	if err := os.Remove(filepath.Join(be.Dir(), "data", "ab")); err != nil {
		t.Fatal(err)
	}
	h := backend.Handle{Type: backend.PackFile, Name: "ab" + strings.Repeat("0", 62)}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("pack"))); err != nil {
		t.Fatal(err)
	}
	if buf, err := backend.LoadAll(ctx, be, h); err != nil || string(buf) != "pack" {
		t.Fatalf("LoadAll = %q, %v", buf, err)
	}
}

type failingReader struct {
	backend.RewindReader
	n int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	if len(p) > r.n {
		p = p[:r.n]
	}
	n, err := r.RewindReader.Read(p)
	r.n -= n
	return n, err
}

// TestAtomicSave: a failed save leaves neither a partial file nor a
// temporary file, and a failed replace keeps the old content.
func TestAtomicSave(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	h := backend.Handle{Type: backend.IndexFile, Name: strings.Repeat("ab", 32)}
	err := be.Save(ctx, h, &failingReader{RewindReader: backend.NewByteReader(data), n: 300000})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Save with failing reader = %v", err)
	}
	if _, err := be.Stat(ctx, h); !backend.IsNotExist(err) {
		t.Errorf("partial file visible after failed save: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(be.Dir(), "index")); len(entries) != 0 {
		t.Errorf("failed save left files: %v", entries)
	}

	if err := be.Save(ctx, h, backend.NewByteReader([]byte("old"))); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, &failingReader{RewindReader: backend.NewByteReader(data), n: 1000}); err == nil {
		t.Fatal("failing replace succeeded")
	}
	if buf, err := backend.LoadAll(ctx, be, h); err != nil || string(buf) != "old" {
		t.Errorf("after failed replace: %q, %v", buf, err)
	}

	// Cancelled context: nothing written.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	h2 := backend.Handle{Type: backend.IndexFile, Name: strings.Repeat("cd", 32)}
	if err := be.Save(cctx, h2, backend.NewByteReader(data)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with cancelled context = %v", err)
	}
	if _, err := be.Stat(ctx, h2); !backend.IsNotExist(err) {
		t.Errorf("file written despite cancelled context: %v", err)
	}
}

// TestTempFilesNotListed: leftovers of interrupted saves (ours or restic's,
// which use the same "<name>-tmp-<random>" pattern) are not listed.
func TestTempFilesNotListed(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	id := strings.Repeat("ab", 32)
	for _, p := range []string{"data/ab/" + id + "-tmp-123456", "keys/" + id + "-tmp-99", "snapshots/" + id + "-tmp-1"} {
		if err := os.WriteFile(filepath.Join(be.Dir(), filepath.FromSlash(p)), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := be.Save(ctx, backend.Handle{Type: backend.PackFile, Name: id}, backend.NewByteReader([]byte("pack"))); err != nil {
		t.Fatal(err)
	}
	for _, tpe := range []backend.FileType{backend.PackFile, backend.KeyFile, backend.SnapshotFile} {
		var names []string
		if err := be.List(ctx, tpe, func(fi backend.FileInfo) error {
			names = append(names, fi.Name)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := []string(nil)
		if tpe == backend.PackFile {
			want = []string{id}
		}
		if !slices.Equal(names, want) {
			t.Errorf("List(%v) = %v, want %v", tpe, names, want)
		}
	}
}

func TestListModTimeAndMissingDirs(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	h := backend.Handle{Type: backend.LockFile, Name: "0123"}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("lock"))); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := be.List(ctx, backend.LockFile, func(fi backend.FileInfo) error {
		n++
		if fi.ModTime.IsZero() || fi.Size != 4 || fi.Name != "0123" {
			t.Errorf("List returned %+v", fi)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("List returned %d files", n)
	}
	fi, err := be.Stat(ctx, h)
	if err != nil || fi.ModTime.IsZero() {
		t.Errorf("Stat = %+v, %v", fi, err)
	}

	// Missing directories list as empty, like restic.
	if err := os.RemoveAll(filepath.Join(be.Dir(), "data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(be.Dir(), "snapshots")); err != nil {
		t.Fatal(err)
	}
	for _, tpe := range []backend.FileType{backend.PackFile, backend.SnapshotFile} {
		if err := be.List(ctx, tpe, func(fi backend.FileInfo) error {
			t.Errorf("List(%v) returned %v", tpe, fi)
			return nil
		}); err != nil {
			t.Errorf("List(%v) of a missing directory: %v", tpe, err)
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	h := backend.Handle{Type: backend.SnapshotFile, Name: "feed"}
	_, err := be.Stat(ctx, h)
	if !backend.IsNotExist(err) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of missing file: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), filepath.Join(be.Dir(), "snapshots", "feed")) {
		t.Errorf("error does not name the path: %v", err)
	}
	if err := be.Save(ctx, h, backend.NewByteReader([]byte("12345"))); err != nil {
		t.Fatal(err)
	}
	err = be.Load(ctx, h, 10, 0, func(io.Reader) error { return nil })
	if !errors.Is(err, backend.ErrTooShort) || !backend.IsPermanent(err) || backend.IsNotExist(err) {
		t.Errorf("short Load: %v", err)
	}
	for _, name := range []string{"", ".", "..", "../config", "a/b"} {
		bad := backend.Handle{Type: backend.KeyFile, Name: name}
		if err := be.Save(ctx, bad, backend.NewByteReader(nil)); err == nil {
			t.Errorf("Save accepted name %q", name)
		}
		if _, err := be.Stat(ctx, bad); err == nil {
			t.Errorf("Stat accepted name %q", name)
		}
	}
	// Files are read-only after Save, but Remove works (as in restic).
	if err := be.Remove(ctx, h); err != nil {
		t.Errorf("Remove read-only file: %v", err)
	}
	if err := be.Remove(ctx, h); !backend.IsNotExist(err) {
		t.Errorf("Remove of a missing file: %v", err)
	}
}

// TestENOSPCPermanent: a full disk is not worth retrying.
func TestENOSPCPermanent(t *testing.T) {
	be := newRepo(t)
	h := backend.Handle{Type: backend.KeyFile, Name: "full"}
	err := be.Save(context.Background(), h, enospcReader{})
	if !errors.Is(err, syscall.ENOSPC) || !backend.IsPermanent(err) {
		t.Errorf("Save with ENOSPC: %v (permanent %v)", err, backend.IsPermanent(err))
	}
}

type enospcReader struct{}

func (enospcReader) Read([]byte) (int, error) { return 0, syscall.ENOSPC }
func (enospcReader) Rewind() error            { return nil }
func (enospcReader) Length() int64            { return 10 }

// TestSaveFileSource: a backend.FileSource is copied file to file with
// CopyTo (in the kernel where it can), piece by piece, and stored intact.
func TestSaveFileSource(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	data := make([]byte, 100000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	src := backendtest.NewFileSource(t, data, 30000)
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("cd", 32)}
	if err := be.Save(ctx, h, src); err != nil {
		t.Fatal(err)
	}
	if src.Copies.Load() != 1 || src.Copied.Load() != int64(len(data)) || src.Progress.Load() != 4 {
		t.Fatalf("CopyTo: %d calls, %d bytes, %d progress calls", src.Copies.Load(), src.Copied.Load(), src.Progress.Load())
	}
	if got, err := backend.LoadAll(ctx, be, h); err != nil || !slices.Equal(got, data) {
		t.Fatalf("stored %d bytes (%v), want the %d of the source", len(got), err, len(data))
	}
}

// TestSaveLinkableSource: a source that can be linked becomes the stored
// file itself (nothing is copied), read-only like every stored file; saving
// it again under the same name (as a retried save would) leaves no
// temporary name behind. A source that refuses the link is copied.
func TestSaveLinkableSource(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	src := backendtest.NewFileSource(t, data, 30000)
	src.Linkable = true
	h := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ab", 32)}
	for range 2 {
		if err := be.Save(ctx, h, src); err != nil {
			t.Fatal(err)
		}
	}
	if src.Links.Load() != 2 || src.Copies.Load() != 0 {
		t.Fatalf("%d links, %d copies; want 2 links and no copy", src.Links.Load(), src.Copies.Load())
	}
	final := filepath.Join(be.Dir(), "data", "ab", h.Name)
	fi, err := os.Stat(final)
	if err != nil {
		t.Fatal(err)
	}
	own, err := src.File().Stat()
	if err != nil || !os.SameFile(fi, own) {
		t.Fatalf("stored file is not the source's file (%v)", err)
	}
	if fi.Mode().Perm()&0o222 != 0 {
		t.Fatalf("stored file is writable: %v", fi.Mode())
	}
	entries, err := os.ReadDir(filepath.Dir(final))
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the pack (%v)", len(entries), err)
	}
	if got, err := backend.LoadAll(ctx, be, h); err != nil || !slices.Equal(got, data) {
		t.Fatalf("stored %d bytes (%v), want the %d of the source", len(got), err, len(data))
	}

	refused := backendtest.NewFileSource(t, data[:5000], 30000)
	h2 := backend.Handle{Type: backend.PackFile, Name: strings.Repeat("ac", 32)}
	if err := be.Save(ctx, h2, refused); err != nil {
		t.Fatal(err)
	}
	if refused.Copies.Load() != 1 || refused.Links.Load() != 0 {
		t.Fatalf("refused link: %d copies, %d links", refused.Copies.Load(), refused.Links.Load())
	}
	if got, err := backend.LoadAll(ctx, be, h2); err != nil || !slices.Equal(got, data[:5000]) {
		t.Fatalf("copied %d bytes (%v)", len(got), err)
	}
}

// TestConsistentList: a repository on a local disk's file system (tmpfs
// here) reports that it lists every completed write; a directory that
// cannot be examined does not.
func TestConsistentList(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "arca-local-test-")
	if err != nil {
		t.Skip("no /dev/shm")
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	be, err := local.Create(context.Background(), filepath.Join(shm, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && !be.Properties().ConsistentList {
		t.Error("a repository on tmpfs does not list consistently")
	}
	if local.New(filepath.Join(shm, "missing")).Properties().ConsistentList {
		t.Error("a missing directory lists consistently")
	}
}
