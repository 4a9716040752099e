package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/copier"
	"github.com/arca-backup/arca/repo/diff"
	"github.com/arca-backup/arca/repo/dump"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/stats"
	"github.com/arca-backup/arca/repo/tags"
)

func TestTagAndDump(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a.txt": []byte("alpha\n"), "d/b.txt": []byte("beta\n")})
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Tags: []string{"old"}})
	if err != nil {
		t.Fatal(err)
	}

	out, err := r.Tag(ctx, []string{res.SnapshotID.Str()}, tags.Edit{Add: []string{"new"}, Remove: []string{"old"}})
	if err != nil || len(out) != 1 {
		t.Fatalf("tag: %v, %v", out, err)
	}
	if got := out[0].Tags; len(got) != 1 || got[0] != "new" || out[0].Original == nil || *out[0].Original != res.SnapshotID {
		t.Errorf("tagged snapshot: tags %v, original %v", got, out[0].Original)
	}
	if snaps, _ := r.Snapshots(ctx, repo.SnapshotFilter{Tags: [][]string{{"new"}}}, nil); len(snaps) != 1 {
		t.Errorf("snapshots tagged new: %d", len(snaps))
	}

	var file bytes.Buffer
	if err := r.Dump(ctx, "latest", filepath.ToSlash(filepath.Join(src, "d", "b.txt")), dump.Tar, &file); err != nil {
		t.Fatal(err)
	}
	if file.String() != "beta\n" {
		t.Errorf("dump of a file: %q", file.String())
	}
	var archive bytes.Buffer
	if err := r.Dump(ctx, "latest", filepath.ToSlash(filepath.Join(src, "d")), dump.Tar, &archive); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&archive)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(h.Name) == "b.txt" {
			data, _ := io.ReadAll(tr)
			found = string(data) == "beta\n"
		}
	}
	if !found {
		t.Error("tar of a directory lacks b.txt")
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	k, err := r.AddKey(ctx, "second password", "someone", "somewhere")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %+v, %v", keys, err)
	}
	current := 0
	for _, key := range keys {
		if key.Current {
			current++
		}
		if key.ID == k.ID && (key.Username != "someone" || key.Hostname != "somewhere" || key.Current) {
			t.Errorf("added key listed as %+v", key)
		}
	}
	if current != 1 {
		t.Errorf("%d current keys", current)
	}
	r2, err := engine.Open(ctx, loc, engine.Options{Password: "second password"})
	if err != nil {
		t.Fatalf("open with the added key: %v", err)
	}
	defer r2.Close()
	if _, err := r2.RemoveKey(ctx, k.ID.Str()); !errors.Is(err, repo.ErrRemoveCurrentKey) {
		t.Errorf("removing the current key: %v", err)
	}
	if id, err := r.RemoveKey(ctx, k.ID.Str()); err != nil || id != k.ID {
		t.Fatalf("remove key %s: removed %s, %v", k.ID.Str(), id.Str(), err)
	}
	if _, err := engine.Open(ctx, loc, engine.Options{Password: "second password"}); !errors.Is(err, engine.ErrWrongPassword) {
		t.Fatalf("open with a removed key: %v", err)
	}
	if _, err := r.ChangePassword(ctx, "third"); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Open(ctx, loc, engine.Options{Password: password}); !errors.Is(err, engine.ErrWrongPassword) {
		t.Errorf("open with the replaced password: %v", err)
	}
	r3, err := engine.Open(ctx, loc, engine.Options{Password: "third"})
	if err != nil {
		t.Fatal(err)
	}
	r3.Close()
}

func TestDiffAndStats(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a": []byte("aaaa"), "b": []byte("bbbb")})
	first, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(src, "a"))
	writeTree(t, src, map[string][]byte{"b": []byte("changed b"), "c": []byte("cc")})
	second, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}

	changes := map[string]string{}
	res, err := r.Diff(ctx, first.SnapshotID.Str(), second.SnapshotID.Str(), diff.Options{OnChange: func(c diff.Change) {
		changes[filepath.Base(c.Path)] = c.Modifier
	}})
	if err != nil {
		t.Fatal(err)
	}
	if changes["a"] != "-" || changes["b"] != "M" || changes["c"] != "+" || res.ChangedFiles != 1 {
		t.Errorf("diff: changes %v, %d changed files", changes, res.ChangedFiles)
	}
	if res.Added.Files != 1 || res.Removed.Files != 1 {
		t.Errorf("diff counts: added %+v, removed %+v", res.Added, res.Removed)
	}

	st, err := r.Stats(ctx, repo.SnapshotFilter{}, stats.RestoreSize)
	if err != nil {
		t.Fatal(err)
	}
	// two snapshots: a+b (8 bytes) and b'+c (11 bytes)
	if st.SnapshotsCount != 2 || st.TotalSize != 19 {
		t.Errorf("stats: %+v, want 2 snapshots of 19 bytes", st)
	}
	raw, err := r.Stats(ctx, repo.SnapshotFilter{}, stats.RawData)
	if err != nil || raw.TotalBlobCount == 0 || raw.TotalSize == 0 {
		t.Errorf("raw-data stats: %+v, %v", raw, err)
	}
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	src, _ := initRepo(t)
	dst, dstLoc := initRepo(t)
	dir := filepath.Join(t.TempDir(), "src")
	files := randomFiles(7, 2, 200<<10)
	writeTree(t, dir, files)
	b, err := src.Backup(ctx, []string{dir}, engine.BackupOptions{Tags: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	var events []string // the pack counts, in order
	res, err := src.Copy(ctx, dst, nil, engine.CopyOptions{Events: copier.Events{
		Planned: func(_ *model.Snapshot, _ int, _ uint64, packs int) {
			events = append(events, fmt.Sprint("planned ", packs))
		},
		Progress: func(_ *model.Snapshot, done, total int) {
			events = append(events, fmt.Sprintf("%d/%d", done, total))
		},
		Copied: func(_ *model.Snapshot, packs int, _ time.Duration) {
			events = append(events, fmt.Sprint("copied ", packs))
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// every source pack is counted once its blobs are all stored
	if len(events) < 3 || events[0] != "planned "+strings.TrimPrefix(events[len(events)-1], "copied ") {
		t.Fatalf("copy events %q", events)
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(events[0], "planned "))
	want := []string{events[0]}
	for i := 0; i <= n; i++ {
		want = append(want, fmt.Sprintf("%d/%d", i, n))
	}
	if want = append(want, fmt.Sprint("copied ", n)); n < 2 || strings.Join(events, ",") != strings.Join(want, ",") {
		t.Errorf("copy events %q, want %q", events, want)
	}
	copyID, ok := res.Copied[b.SnapshotID]
	if !ok || len(res.Copied) != 1 {
		t.Fatalf("copied: %v", res.Copied)
	}
	snaps, err := dst.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if err != nil || len(snaps) != 1 || snaps[0].ID != copyID || *snaps[0].Original != b.SnapshotID {
		t.Fatalf("destination snapshots: %+v, %v", snaps, err)
	}
	// a second copy finds the snapshot there already
	again, err := src.Copy(ctx, dst, []string{"latest"}, engine.CopyOptions{})
	if err != nil || len(again.Copied) != 0 || len(again.Skipped) != 1 {
		t.Fatalf("second copy: %+v, %v", again, err)
	}
	out := t.TempDir()
	if _, err := dst.Restore(ctx, copyID.String(), out, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, filepath.Join(out, dir), files)
	resticCheck(t, dstLoc)
}
