package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend/cache"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// cacheTree lists the files below a repository's cache directory, relative
// to it (temporary files excluded).
func cacheTree(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), "tmp-") {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// TestCacheLayoutSharedWithRestic reads a restic repository's snapshot and
// every tree once with restic and once with arca's engine, each with its own
// cache directory: both must cache the same files at the same paths, so the
// two programs share one cache.
func TestCacheLayoutSharedWithRestic(t *testing.T) {
	fx := resticRepoFixture(t, resticRepoOptions{Version: 2, Snapshots: 1})
	resticCache := t.TempDir()
	mustRestic(t, fx.Env(), "--cache-dir", resticCache, "ls", "--recursive", "latest")

	ctx := context.Background()
	be, err := local.Open(ctx, fx.Repo)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	r, err := repo.Open(ctx, be, fx.Password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	arcaCache := t.TempDir()
	c, err := cache.Open(arcaCache, r.Config().ID)
	if err != nil {
		t.Fatal(err)
	}
	r.UseCache(c)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %d, %v", len(snaps), err)
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

	want := cacheTree(t, filepath.Join(resticCache, r.Config().ID))
	got := cacheTree(t, c.Dir())
	if !slices.Equal(got, want) {
		t.Fatalf("cached files differ\nrestic: %v\narca:   %v", want, got)
	}
	if !slices.ContainsFunc(want, func(p string) bool { return strings.HasPrefix(p, "data/") }) {
		t.Fatalf("restic cached no tree pack: %v", want)
	}
	for _, f := range []string{"CACHEDIR.TAG"} {
		w, _ := os.ReadFile(filepath.Join(resticCache, f))
		g, _ := os.ReadFile(filepath.Join(arcaCache, f))
		if string(w) != string(g) {
			t.Fatalf("%s differs: restic %q, arca %q", f, w, g)
		}
	}
}

// TestCacheCommandMatchesRestic lists and cleans a cache directory holding
// a fresh and an old repository cache with both programs.
func TestCacheCommandMatchesRestic(t *testing.T) {
	base := t.TempDir()
	fresh := strings.Repeat("ab", 32)
	old := strings.Repeat("cd", 32)
	for _, id := range []string{fresh, old} {
		if _, err := cache.Open(base, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, fresh, "index", "blob"), make([]byte, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-45 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(base, old), long, long); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"cache"},
		{"cache", "--no-size"},
		{"cache", "--max-age", "50"},
	} {
		args = append(args, "--cache-dir", base)
		want := mustRestic(t, nil, args...)
		got, stderr, code := runArcaInProc(args...)
		if code != 0 || string(got) != string(want) {
			t.Fatalf("arca %v: exit %d, stderr %s\nrestic:\n%s\narca:\n%s", args, code, stderr, want, got)
		}
	}

	// --cleanup removes only the old cache, with restic's message
	got, stderr, code := runArcaInProc("cache", "--cleanup", "--cache-dir", base)
	if code != 0 || string(got) != "remove 1 old cache directories\n" {
		t.Fatalf("cleanup: exit %d, stdout %q, stderr %s", code, got, stderr)
	}
	if _, err := os.Stat(filepath.Join(base, old)); !os.IsNotExist(err) {
		t.Fatalf("old cache still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, fresh)); err != nil {
		t.Fatalf("fresh cache removed: %v", err)
	}
	args := []string{"cache", "--cleanup", "--cache-dir", base}
	want := mustRestic(t, nil, args...)
	got, _, _ = runArcaInProc(args...)
	if string(got) != string(want) {
		t.Fatalf("nothing to clean up:\nrestic: %q\narca:   %q", want, got)
	}

	if _, stderr, code := runArcaInProc("cache", "--no-cache"); code != 1 || !strings.Contains(string(stderr), "the cache is disabled") {
		t.Fatalf("cache --no-cache: exit %d, %s", code, stderr)
	}
}
