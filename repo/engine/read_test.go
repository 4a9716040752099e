package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/restorer"
	"github.com/arca-backup/arca/repo/stats"
	"github.com/arca-backup/arca/repo/walker"
)

// twoSnapshots backs up a small tree twice, changing it in between, and
// returns the repository, the source directory and both snapshots.
func twoSnapshots(t *testing.T) (*engine.Repository, string, *model.Snapshot, *model.Snapshot) {
	t.Helper()
	ctx := context.Background()
	r, _ := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{
		"a.txt":        []byte("alpha\n"),
		"dir/b.go":     []byte("package b\n"),
		"dir/sub/c.go": []byte("package c\n"),
	})
	first, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, src, map[string][]byte{"dir/d.go": []byte("package d\n")})
	second, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[model.ID]*model.Snapshot{}
	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range snaps {
		byID[sn.ID] = sn
	}
	return r, filepath.ToSlash(src), byID[first.SnapshotID], byID[second.SnapshotID]
}

func TestFindPatternsAndIDs(t *testing.T) {
	ctx := context.Background()
	r, src, first, second := twoSnapshots(t)

	found := map[model.ID][]string{}
	_, err := r.Find(ctx, []*model.Snapshot{second, first}, engine.FindOptions{
		Patterns:   []string{"*.GO"},
		IgnoreCase: true,
		Match: func(m engine.FindMatch) error {
			found[m.Snapshot.ID] = append(found[m.Snapshot.ID], strings.TrimPrefix(m.Path, src))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(found[first.ID], ","); got != "/dir/b.go,/dir/sub/c.go" {
		t.Errorf("first snapshot: found %s", got)
	}
	if got := strings.Join(found[second.ID], ","); got != "/dir/b.go,/dir/d.go,/dir/sub/c.go" {
		t.Errorf("second snapshot: found %s", got)
	}

	// the blob of a.txt by its short ID, the tree of dir/sub by its full ID
	blob := model.Hash([]byte("alpha\n"))
	var subTree model.ID
	err = r.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		var err error
		subTree, err = rd.Subtree(ctx, *second.Tree, strings.TrimPrefix(src, "/")+"/dir/sub")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	res, err := r.Find(ctx, []*model.Snapshot{second}, engine.FindOptions{
		BlobIDs: []string{blob.Str()},
		Object: func(o engine.FindObject) error {
			objects = append(objects, o.Type.String()+" "+o.ID.String()+" "+strings.TrimPrefix(o.Path, src))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "data " + blob.String() + " /a.txt"; len(objects) != 1 || objects[0] != want {
		t.Errorf("blob search: %q, want %q", objects, want)
	}
	if len(res.BlobIDs) != 1 || res.BlobIDs[0] != blob.String() {
		t.Errorf("blob IDs after the search: %v, want the full ID", res.BlobIDs)
	}
	objects = nil
	_, err = r.Find(ctx, []*model.Snapshot{second}, engine.FindOptions{
		TreeIDs: []string{subTree.String()},
		Object: func(o engine.FindObject) error {
			objects = append(objects, o.Type.String()+" "+strings.TrimPrefix(o.Path, src))
			return nil
		},
	})
	if err != nil || len(objects) != 1 || objects[0] != "tree /dir/sub" {
		t.Errorf("tree search: %q, %v", objects, err)
	}

	// a pack: its blobs are looked for; a missing pack is an error
	var packs []model.ID
	if err := r.ListFiles(ctx, backend.PackFile, func(id model.ID, _ int64) error {
		packs = append(packs, id)
		return nil
	}); err != nil || len(packs) == 0 {
		t.Fatalf("packs: %v, %v", packs, err)
	}
	var blobs, trees []string
	err = r.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		var err error
		blobs, trees, err = rd.PackContents(ctx, []string{packs[0].String()}, nil)
		return err
	})
	if err != nil || len(blobs)+len(trees) == 0 {
		t.Errorf("pack contents: %v %v, %v", blobs, trees, err)
	}
	var pnf *engine.PacksNotFoundError
	_, err = r.Find(ctx, []*model.Snapshot{second}, engine.FindOptions{PackIDs: []string{"deadbeef"}})
	if !errors.As(err, &pnf) || len(pnf.Packs) != 1 || pnf.Packs[0] != "deadbeef" {
		t.Errorf("missing pack: %v", err)
	}
}

func TestCatObjects(t *testing.T) {
	ctx := context.Background()
	r, src, _, second := twoSnapshots(t)
	if r.MasterKey() == nil {
		t.Fatal("no master key")
	}

	var keys, indexes, packs []model.ID
	for _, l := range []struct {
		t   backend.FileType
		ids *[]model.ID
	}{{backend.KeyFile, &keys}, {backend.IndexFile, &indexes}, {backend.PackFile, &packs}} {
		if err := r.ListFiles(ctx, l.t, func(id model.ID, _ int64) error {
			*l.ids = append(*l.ids, id)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(keys) != 1 || len(indexes) == 0 || len(packs) == 0 {
		t.Fatalf("files: %d keys, %d indexes, %d packs", len(keys), len(indexes), len(packs))
	}

	blob := model.Hash([]byte("package d\n"))
	err := r.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		data, typ, err := rd.Blob(ctx, blob)
		if err != nil {
			return err
		}
		if sha256.Sum256(data) != blob || typ != model.DataBlob || string(data) != "package d\n" {
			t.Errorf("blob: %q (%v)", data, typ)
		}
		if _, _, err := rd.Blob(ctx, model.Hash([]byte("nowhere"))); !errors.Is(err, engine.ErrBlobNotFound) {
			t.Errorf("missing blob: %v", err)
		}

		tree, err := rd.Subtree(ctx, *second.Tree, strings.TrimPrefix(src, "/")+"/dir")
		if err != nil {
			return err
		}
		buf, err := rd.Tree(ctx, tree)
		if err != nil {
			return err
		}
		var decoded struct {
			Nodes []struct{ Name string } `json:"nodes"`
		}
		if sha256.Sum256(buf) != tree || json.Unmarshal(buf, &decoded) != nil || len(decoded.Nodes) != 3 || decoded.Nodes[1].Name != "d.go" {
			t.Errorf("tree of dir: %s", buf)
		}
		if _, err := rd.Subtree(ctx, *second.Tree, strings.TrimPrefix(src, "/")+"/a.txt"); err == nil || !strings.HasSuffix(err.Error(), "a.txt: not a directory") {
			t.Errorf("subtree of a file: %v", err)
		}

		idx, err := rd.IndexFile(ctx, indexes[0])
		if err != nil {
			return err
		}
		var ij struct {
			Packs []struct{ ID string } `json:"packs"`
		}
		if err := json.Unmarshal(idx, &ij); err != nil || len(ij.Packs) == 0 {
			t.Errorf("index file: %v: %s", err, idx)
		}

		kf, err := rd.KeyFile(ctx, keys[0])
		if err != nil {
			return err
		}
		if kf.Created.IsZero() || kf.Hostname == "" {
			t.Errorf("key file: %+v", kf)
		}

		pack, err := rd.Pack(ctx, packs[0])
		if err != nil {
			return err
		}
		if sha256.Sum256(pack) != packs[0] {
			t.Errorf("pack %s: content hash differs", packs[0].Str())
		}

		id, err := rd.FindFileID(ctx, backend.SnapshotFile, second.ID.String()[:6])
		if err != nil || id != second.ID {
			t.Errorf("snapshot by prefix: %v, %v", id, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// a lock file as its holder wrote it
	_, release, err := r.Lock(ctx, engine.ExclusiveLock)
	if err != nil {
		t.Fatal(err)
	}
	var locks []model.ID
	if err := r.ListFiles(ctx, backend.LockFile, func(id model.ID, _ int64) error {
		locks = append(locks, id)
		return nil
	}); err != nil || len(locks) != 1 {
		t.Fatalf("lock files while locked: %v, %v", locks, err)
	}
	// reading takes a shared lock, which the exclusive one blocks
	if err := r.Read(ctx, func(context.Context, *engine.Reader) error { return nil }); !engine.IsLocked(err) {
		t.Errorf("Read while exclusively locked: %v", err)
	}
	release()
	r2, err := engine.Open(ctx, r.Location(), engine.Options{Password: password, NoLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	_, release, err = r.Lock(ctx, engine.SharedLock)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	locks = nil
	r2.ListFiles(ctx, backend.LockFile, func(id model.ID, _ int64) error {
		locks = append(locks, id)
		return nil
	})
	if len(locks) != 1 {
		t.Fatalf("lock files: %v", locks)
	}
	err = r2.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		lk, err := rd.LockFile(ctx, locks[0])
		if err != nil {
			return err
		}
		if lk.Exclusive || lk.PID != os.Getpid() || time.Since(lk.Time) > time.Hour {
			t.Errorf("lock: %+v", lk)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestListFilesAndBlobs(t *testing.T) {
	ctx := context.Background()
	r, _, first, second := twoSnapshots(t)
	var snaps []model.ID
	if err := r.ListFiles(ctx, backend.SnapshotFile, func(id model.ID, size int64) error {
		if size <= 0 {
			t.Errorf("snapshot %s: size %d", id.Str(), size)
		}
		snaps = append(snaps, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].String() < snaps[j].String() })
	want := []model.ID{first.ID, second.ID}
	sort.Slice(want, func(i, j int) bool { return want[i].String() < want[j].String() })
	if len(snaps) != 2 || snaps[0] != want[0] || snaps[1] != want[1] {
		t.Errorf("snapshot files %v, want %v", snaps, want)
	}

	blobs := map[model.BlobHandle]int{}
	if err := r.ListBlobs(ctx, func(h model.BlobHandle) error {
		blobs[h]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []model.BlobHandle{
		{ID: model.Hash([]byte("alpha\n")), Type: model.DataBlob},
		{ID: model.Hash([]byte("package d\n")), Type: model.DataBlob},
		{ID: *first.Tree, Type: model.TreeBlob},
		{ID: *second.Tree, Type: model.TreeBlob},
	} {
		if blobs[h] != 1 {
			t.Errorf("blob %v listed %d times, want 1", h, blobs[h])
		}
	}
	// 4 distinct file contents; trees: root path components + dir, sub
	// (twice for the changed ones)
	data := 0
	for h := range blobs {
		if h.Type == model.DataBlob {
			data++
		}
	}
	if data != 4 {
		t.Errorf("%d data blobs, want 4", data)
	}
}

// bigTree writes n files of size random bytes below a new directory.
func bigTree(t *testing.T, n, size int) (string, map[string][]byte) {
	src := filepath.Join(t.TempDir(), "src")
	files := randomFiles(7, n, size)
	writeTree(t, src, files)
	return src, files
}

func TestRestoreProgress(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	src, files := bigTree(t, 6, 300<<10)
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, data := range files {
		total += uint64(len(data))
	}

	var mu sync.Mutex
	var reports []engine.RestoreStatus
	dst := t.TempDir()
	verifying := false
	res, err := r.Restore(ctx, "latest", dst, engine.RestoreOptions{
		Verify:         true,
		StatusInterval: time.Millisecond,
		Status: func(s engine.RestoreStatus) {
			mu.Lock()
			reports = append(reports, s)
			mu.Unlock()
		},
		Verifying: func() { verifying = true },
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRestored(t, filepath.Join(dst, src), files)
	mu.Lock()
	defer mu.Unlock()
	if len(reports) == 0 {
		t.Fatal("no status reports")
	}
	last := reports[len(reports)-1]
	if !last.Done {
		t.Errorf("last report is not the final one: %+v", last)
	}
	for i, s := range reports {
		if s.Done != (i == len(reports)-1) {
			t.Errorf("report %d: Done %v", i, s.Done)
		}
		if i > 0 && (s.BytesWritten < reports[i-1].BytesWritten || s.FilesFinished < reports[i-1].FilesFinished) {
			t.Errorf("report %d goes back: %+v after %+v", i, s.State, reports[i-1].State)
		}
	}
	// the totals count the files' bytes and every item: the files, their
	// directory and the directories of the source path
	dirs := uint64(len(strings.Split(strings.Trim(filepath.ToSlash(src), "/"), "/"))) + 1
	if last.BytesWritten != total || last.BytesTotal != total || last.FilesFinished != last.FilesTotal || last.FilesTotal != uint64(len(files))+dirs {
		t.Errorf("final report %+v: want %d bytes of %d, %d items", last.State, total, total, uint64(len(files))+dirs)
	}
	if res.State != last.State || res.FilesWritten != uint64(len(files)) || res.FilesVerified != len(files) || !verifying || res.Errors != 0 {
		t.Errorf("result %+v (verifying called: %v), final report %+v", res, verifying, last.State)
	}
	if res.Snapshot == nil || res.Elapsed <= 0 {
		t.Errorf("result: snapshot %v, elapsed %v", res.Snapshot, res.Elapsed)
	}
}

func TestRestoreCancelled(t *testing.T) {
	r, loc := initRepo(t)
	src, _ := bigTree(t, 20, 200<<10)
	if _, err := r.Backup(context.Background(), []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt time.Time
	var once sync.Once
	res, err := r.Restore(ctx, "latest", t.TempDir(), engine.RestoreOptions{
		Events: restorer.Events{Item: func(a restorer.Action, _ string, _ uint64) {
			if a == restorer.ActionFileRestored {
				once.Do(func() { cancelledAt = time.Now(); cancel() })
			}
		}},
	})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("cancelled restore: %v, %+v", err, res)
	}
	if cancelledAt.IsZero() {
		t.Fatal("no file was restored before the cancellation")
	}
	// generous: a restore of 4 MB stops well within this when cancelled
	if d := time.Since(cancelledAt); d > 10*time.Second {
		t.Errorf("restore returned %v after the cancellation", d)
	}
	entries, err := os.ReadDir(filepath.Join(loc, "locks"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%d lock files left behind", len(entries))
	}
}

func TestConcurrentReads(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	src, files := bigTree(t, 4, 100<<10)
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if err != nil || len(snaps) != 1 {
		t.Fatal(snaps, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				errs <- err
			}
		}()
	}
	for range 2 {
		run(func() error {
			dst := t.TempDir()
			if _, err := r.Restore(ctx, "latest", dst, engine.RestoreOptions{}); err != nil {
				return err
			}
			checkRestored(t, filepath.Join(dst, src), files)
			return nil
		})
		run(func() error {
			n := 0
			_, err := r.Find(ctx, snaps, engine.FindOptions{Patterns: []string{"file*"}, Match: func(engine.FindMatch) error { n++; return nil }})
			if err == nil && n != len(files) {
				return errors.New("find: wrong number of matches")
			}
			return err
		})
		run(func() error {
			st, err := r.Stats(ctx, repo.SnapshotFilter{}, stats.RestoreSize)
			if err == nil && st.TotalSize != uint64(len(files)*(100<<10)) {
				return fmt.Errorf("stats: %+v, want %d bytes", st, len(files)*(100<<10))
			}
			return err
		})
		run(func() error {
			return r.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
				for name, data := range files {
					got, _, err := rd.Blob(ctx, model.Hash(data))
					if err != nil {
						return err
					}
					if !bytes.Equal(got, data) {
						return errors.New("blob of " + name + " differs")
					}
				}
				return rd.Walk(ctx, *snaps[0].Tree, walker.Visitor{Node: func(model.ID, string, *model.Node) error { return nil }})
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
