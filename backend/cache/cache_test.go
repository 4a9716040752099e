package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/backend/mem"
)

// countingBackend counts the loads that reach the backend behind the cache.
type countingBackend struct {
	backend.Backend
	loads atomic.Int64
}

func (b *countingBackend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	b.loads.Add(1)
	return b.Backend.Load(ctx, h, length, offset, fn)
}

const repoID = "5d2a1b39c4e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2"

func newCached(t *testing.T) (*cache.Cache, *countingBackend, *cache.Backend) {
	t.Helper()
	c, err := cache.Open(t.TempDir(), repoID)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Created() {
		t.Fatal("a new cache directory should report Created")
	}
	inner := &countingBackend{Backend: mem.New()}
	return c, inner, c.Wrap(inner)
}

func content(s string) (backend.Handle, []byte) {
	buf := bytes.Repeat([]byte(s), 100)
	sum := sha256.Sum256(buf)
	return backend.Handle{Name: hex.EncodeToString(sum[:])}, buf
}

func save(t *testing.T, be backend.Backend, h backend.Handle, buf []byte) {
	t.Helper()
	if err := be.Save(context.Background(), h, backend.NewByteReader(buf)); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, be backend.Backend, h backend.Handle, length int, offset int64) []byte {
	t.Helper()
	var out []byte
	err := be.Load(context.Background(), h, length, offset, func(rd io.Reader) error {
		var err error
		out, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		t.Fatalf("load %v: %v", h, err)
	}
	return out
}

func TestLayoutIsRestics(t *testing.T) {
	base := t.TempDir()
	c, err := cache.Open(base, repoID)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := os.ReadFile(filepath.Join(base, "CACHEDIR.TAG"))
	if err != nil || !bytes.HasPrefix(tag, []byte("Signature: 8a477f597d28d172789f06886806bc55\n")) {
		t.Fatalf("CACHEDIR.TAG: %q, %v", tag, err)
	}
	if v, err := os.ReadFile(filepath.Join(base, repoID, "version")); err != nil || string(v) != "1" {
		t.Fatalf("version file: %q, %v", v, err)
	}
	be := c.Wrap(mem.New())
	h, buf := content("index")
	h.Type = backend.IndexFile
	save(t, be, h, buf)
	want := filepath.Join(base, repoID, "index", h.Name[:2], h.Name)
	if got, err := os.ReadFile(want); err != nil || !bytes.Equal(got, buf) {
		t.Fatalf("saved index file not at %s: %v", want, err)
	}
	// opening again reuses the directory
	c2, err := cache.Open(base, repoID)
	if err != nil || c2.Created() {
		t.Fatalf("reopen: created=%v err=%v", c2 != nil && c2.Created(), err)
	}
	if !c2.Has(h) {
		t.Fatal("reopened cache lost the file")
	}
}

func TestNewerVersionRefused(t *testing.T) {
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, repoID), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, repoID, "version"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Open(base, repoID); err == nil {
		t.Fatal("a cache of a newer layout version must not be used")
	}
}

func TestLoadFillsCacheOnce(t *testing.T) {
	c, inner, be := newCached(t)
	h, buf := content("snap")
	h.Type = backend.SnapshotFile
	save(t, inner.Backend, h, buf) // behind the cache's back
	if c.Has(h) {
		t.Fatal("file cached before it was read")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := load(t, be, h, 0, 0); !bytes.Equal(got, buf) {
				t.Error("wrong content")
			}
		})
	}
	wg.Wait()
	if n := inner.loads.Load(); n != 1 {
		t.Fatalf("%d loads reached the backend, want exactly 1", n)
	}
	if got := load(t, be, h, 10, 5); !bytes.Equal(got, buf[5:15]) {
		t.Fatalf("range from cache: %q", got)
	}
	if n := inner.loads.Load(); n != 1 {
		t.Fatalf("a cached range read reached the backend (%d loads)", n)
	}
}

func TestOnlyMetadataPacksAreCached(t *testing.T) {
	c, inner, be := newCached(t)
	data, dbuf := content("data")
	data.Type = backend.PackFile
	tree, tbuf := content("tree")
	tree.Type = backend.PackFile
	tree.Metadata = true
	save(t, be, data, dbuf)
	save(t, be, tree, tbuf)
	if c.Has(data) {
		t.Fatal("a data pack was cached")
	}
	if !c.Has(tree) {
		t.Fatal("a tree pack was not cached on save")
	}
	load(t, be, data, 0, 0)
	load(t, be, data, 0, 0)
	if n := inner.loads.Load(); n != 2 {
		t.Fatalf("data pack loads reaching the backend: %d, want 2", n)
	}
	// the Metadata mark is not needed to find a cached pack
	plain := tree
	plain.Metadata = false
	if got := load(t, be, plain, 0, 0); !bytes.Equal(got, tbuf) || inner.loads.Load() != 2 {
		t.Fatalf("cached tree pack not served from the cache (loads %d)", inner.loads.Load())
	}
	// key files never enter the cache
	key, kbuf := content("key")
	key.Type = backend.KeyFile
	save(t, be, key, kbuf)
	if c.Has(key) {
		t.Fatal("a key file was cached")
	}
}

func TestListAndRemoveKeepCacheInStep(t *testing.T) {
	c, inner, be := newCached(t)
	ctx := context.Background()
	keep, kbuf := content("keep")
	gone, gbuf := content("gone")
	keep.Type, gone.Type = backend.IndexFile, backend.IndexFile
	save(t, be, keep, kbuf)
	save(t, be, gone, gbuf)
	// another client deletes one file: a listing drops it from the cache
	if err := inner.Backend.Remove(ctx, gone); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := be.List(ctx, backend.IndexFile, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != keep.Name {
		t.Fatalf("listing: %v", names)
	}
	if c.Has(gone) || !c.Has(keep) {
		t.Fatalf("after listing: has gone=%v keep=%v", c.Has(gone), c.Has(keep))
	}
	if err := be.Remove(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if c.Has(keep) {
		t.Fatal("Remove left the cached copy")
	}
	// Stat of a file the backend lost drops the cached copy too
	save(t, be, gone, gbuf)
	if err := inner.Backend.Remove(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := be.Stat(ctx, gone); !backend.IsNotExist(err) {
		t.Fatalf("stat of a removed file: %v", err)
	}
	if c.Has(gone) {
		t.Fatal("Stat of a missing file left the cached copy")
	}
}

func TestTruncatedCacheFileFallsBack(t *testing.T) {
	c, inner, be := newCached(t)
	h, buf := content("idx")
	h.Type = backend.IndexFile
	save(t, be, h, buf)
	p := filepath.Join(c.Dir(), "index", h.Name[:2], h.Name)
	if err := os.Truncate(p, 10); err != nil {
		t.Fatal(err)
	}
	if got := load(t, be, h, 20, 100); !bytes.Equal(got, buf[100:120]) {
		t.Fatalf("read past a truncated cache file: %q", got)
	}
	if inner.loads.Load() == 0 {
		t.Fatal("the backend was not asked")
	}
}

func TestForgetOnce(t *testing.T) {
	c, _, be := newCached(t)
	h, buf := content("bad")
	h.Type = backend.SnapshotFile
	save(t, be, h, buf)
	dropped, err := c.Forget(h)
	if err != nil || !dropped || c.Has(h) {
		t.Fatalf("first Forget: dropped=%v err=%v has=%v", dropped, err, c.Has(h))
	}
	load(t, be, h, 0, 0) // cached again
	if _, err := c.Forget(h); !errors.Is(err, cache.ErrForgotten) {
		t.Fatalf("second Forget: %v, want ErrForgotten", err)
	}
	if !c.Has(h) {
		t.Fatal("a refused Forget removed the file")
	}
}

func TestOldDirs(t *testing.T) {
	base := t.TempDir()
	other := "aa" + repoID[2:]
	for _, id := range []string{repoID, other} {
		if _, err := cache.Open(base, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(base, "not-a-cache"), 0o700); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-40 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(base, other), long, long); err != nil {
		t.Fatal(err)
	}
	all, err := cache.Dirs(base)
	if err != nil || len(all) != 2 {
		t.Fatalf("Dirs: %v, %v", all, err)
	}
	old, err := cache.Old(base, cache.MaxAge, time.Now())
	if err != nil || len(old) != 1 || old[0].Name != other {
		t.Fatalf("Old: %+v, %v", old, err)
	}
	// opening an old cache marks it as used
	if _, err := cache.Open(base, other); err != nil {
		t.Fatal(err)
	}
	if old, _ := cache.Old(base, cache.MaxAge, time.Now()); len(old) != 0 {
		t.Fatalf("a reopened cache is still old: %+v", old)
	}
}
