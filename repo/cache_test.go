package repo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/repo/model"
)

// TestCacheDamagedCopyIsFetchedAgain damages the cached copies of an index
// file, a snapshot and a tree pack: a repository opened with that cache
// must drop each damaged copy, read the file from the backend and cache it
// again.
func TestCacheDamagedCopyIsFetchedAgain(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := wtMemRepo(t, 2, be)
	w, err := r.NewWriter(ctx, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := wtSaveFiles(t, ctx, w, wtFiles(7, 0)[:3])
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	snap := wtSnapshot(t, ctx, r, root, "cachehost")

	base := t.TempDir()
	open := func() *Repository {
		r := wtOpen(t, be)
		c, err := cache.Open(base, r.Config().ID)
		if err != nil {
			t.Fatal(err)
		}
		r.UseCache(c)
		if err := r.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.LoadSnapshot(ctx, snap); err != nil {
			t.Fatal(err)
		}
		var trees []model.ID
		r.Index().Each(func(pb model.PackedBlob) bool {
			if pb.Type == model.TreeBlob {
				trees = append(trees, pb.ID)
			}
			return true
		})
		for _, id := range trees {
			if _, err := r.LoadTree(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	r1 := open()
	cached := cachedFiles(t, r1.Cache().Dir())
	for _, kind := range []string{"index", "snapshots", "data"} {
		if len(cached[kind]) == 0 {
			t.Fatalf("nothing cached in %s/ after reading the repository: %v", kind, cached)
		}
	}
	for _, p := range cached["data"] {
		id, _ := model.ParseID(filepath.Base(p))
		blobs, _, err := r1.ListPack(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blobs {
			if b.Type != model.TreeBlob {
				t.Fatalf("pack %s with %v blobs was cached", id.Str(), b.Type)
			}
		}
	}
	var damaged []string
	for _, files := range cached {
		for _, p := range files {
			flipByte(t, p, 40)
			damaged = append(damaged, p)
		}
	}

	open() // fails the test if any damaged copy is used
	for _, p := range damaged {
		name := filepath.Base(p)
		t.Run(name[:8], func(t *testing.T) {
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("damaged copy was not cached again: %v", err)
			}
			if model.Hash(got).String() != name {
				t.Fatal("cached copy still damaged")
			}
		})
	}

	// damaged in the backend too: a clear error, not a loop
	var snapFile string
	for _, p := range cached["snapshots"] {
		snapFile = p
	}
	h := backend.Handle{Type: backend.SnapshotFile, Name: filepath.Base(snapFile)}
	buf, err := backend.LoadAll(ctx, be, h)
	if err != nil {
		t.Fatal(err)
	}
	buf[50] ^= 1
	if err := be.Save(ctx, h, backend.NewByteReader(buf)); err != nil {
		t.Fatal(err)
	}
	flipByte(t, snapFile, 40)
	r3 := wtOpen(t, be)
	c, err := cache.Open(base, r3.Config().ID)
	if err != nil {
		t.Fatal(err)
	}
	r3.UseCache(c)
	if _, err := r3.LoadSnapshot(ctx, snap); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("snapshot damaged in the backend: %v", err)
	}
}

// cachedFiles lists the files in a repository cache by subdirectory.
func cachedFiles(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, kind := range []string{"index", "snapshots", "data"} {
		err := filepath.WalkDir(filepath.Join(dir, kind), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				out[kind] = append(out[kind], p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func flipByte(t *testing.T, p string, off int) {
	t.Helper()
	buf, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	buf[off%len(buf)] ^= 0x80
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
