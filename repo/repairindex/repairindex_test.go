package repairindex_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/checker"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/repairindex"
)

// recorder logs the index files saved and removed, in order.
type recorder struct {
	backend.Backend
	mu  sync.Mutex
	ops []string
}

func (r *recorder) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type == backend.IndexFile {
		r.mu.Lock()
		r.ops = append(r.ops, "save "+h.Name)
		r.mu.Unlock()
	}
	return r.Backend.Save(ctx, h, rd)
}

func (r *recorder) Remove(ctx context.Context, h backend.Handle) error {
	if h.Type == backend.IndexFile {
		r.mu.Lock()
		r.ops = append(r.ops, "remove "+h.Name)
		r.mu.Unlock()
	}
	return r.Backend.Remove(ctx, h)
}

const password = "repair test"

// newRepo writes blobs in several batches (so several packs and index
// files) and returns the backend.
func newRepo(t *testing.T) *mem.Backend {
	t.Helper()
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Create(ctx, be, password, repo.CreateOptions{Version: 2, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for batch := range 3 {
		if err := r.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		w, err := r.NewWriter(ctx, repo.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, fmt.Appendf(nil, "blob %d of batch %d", i, batch), model.ID{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return be
}

func list(t *testing.T, be backend.Backend, typ backend.FileType) []string {
	t.Helper()
	var names []string
	if err := be.List(context.Background(), typ, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func open(t *testing.T, be backend.Backend) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), be, password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// checkClean runs the checker's index and pack phases and fails on any
// problem.
func checkClean(t *testing.T, be backend.Backend) {
	t.Helper()
	ctx := context.Background()
	c := checker.New(open(t, be))
	report := func(p error) { t.Errorf("after repair: %v", p) }
	if err := c.LoadIndex(ctx, report, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Packs(ctx, report); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadPacks(ctx, nil, nil, report); err != nil {
		t.Fatal(err)
	}
}

func TestRepairRemovedIndex(t *testing.T) {
	for _, readAll := range []bool{false, true} {
		t.Run(fmt.Sprintf("readAll=%v", readAll), func(t *testing.T) {
			be := newRepo(t)
			idx := list(t, be, backend.IndexFile)
			if len(idx) < 2 {
				t.Fatalf("%d index files, want several", len(idx))
			}
			if err := be.Remove(context.Background(), backend.Handle{Type: backend.IndexFile, Name: idx[0]}); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{Backend: be}
			var added []model.ID
			err := repairindex.Run(context.Background(), open(t, rec), repairindex.Options{ReadAllPacks: readAll}, repairindex.Events{
				PackAdded: func(id model.ID) { added = append(added, id) },
			})
			if err != nil {
				t.Fatal(err)
			}
			packs := list(t, be, backend.PackFile)
			if want := 1; !readAll && len(added) != want {
				t.Errorf("%d packs added, want %d (the removed index file's)", len(added), want)
			}
			if readAll && len(added) != len(packs) {
				t.Errorf("%d packs added, want all %d", len(added), len(packs))
			}
			// every new index file is saved before any old one is removed
			lastSave, firstRemove := -1, len(rec.ops)
			for i, op := range rec.ops {
				if op[:4] == "save" {
					lastSave = i
				} else if i < firstRemove {
					firstRemove = i
				}
			}
			if lastSave < 0 || firstRemove == len(rec.ops) || lastSave > firstRemove {
				t.Errorf("index operations out of order: %v", rec.ops)
			}
			for _, name := range idx[1:] {
				if slices.Contains(list(t, be, backend.IndexFile), name) {
					t.Errorf("old index file %s is still there", name[:8])
				}
			}
			checkClean(t, be)
		})
	}
}
