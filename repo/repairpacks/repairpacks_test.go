package repairpacks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
	"github.com/arca-backup/arca/repo/repairpacks"
)

const password = "repair packs test"

// recorder logs the files saved and removed, in order.
type recorder struct {
	backend.Backend
	mu  sync.Mutex
	ops []string
}

func (r *recorder) log(op string, h backend.Handle) {
	r.mu.Lock()
	r.ops = append(r.ops, fmt.Sprintf("%s %s %s", op, h.Type, h.Name))
	r.mu.Unlock()
}

func (r *recorder) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type != backend.LockFile {
		r.log("save", h)
	}
	return r.Backend.Save(ctx, h, rd)
}

func (r *recorder) Remove(ctx context.Context, h backend.Handle) error {
	r.log("remove", h)
	return r.Backend.Remove(ctx, h)
}

func blobContent(batch, i int) []byte {
	return bytes.Repeat(fmt.Appendf(nil, "blob %d of batch %d;", i, batch), 100)
}

// newRepo stores two batches of data blobs, each in its own pack; the
// second batch also holds a duplicate of blob 0 of the first.
func newRepo(t *testing.T) *mem.Backend {
	t.Helper()
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Create(ctx, be, password, repo.CreateOptions{Version: 2, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for batch := range 2 {
		w, err := r.NewWriter(ctx, repo.WriteOptions{StoreDuplicates: batch == 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, blobContent(batch, i), model.ID{}); err != nil {
				t.Fatal(err)
			}
		}
		if batch == 1 {
			if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, blobContent(0, 0), model.ID{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return be
}

func open(t *testing.T, be backend.Backend) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), be, password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := r.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// damage flips a bit in the middle of a stored blob.
func damage(t *testing.T, be backend.Backend, pb model.PackedBlob) {
	t.Helper()
	ctx := context.Background()
	h := backend.Handle{Type: backend.PackFile, Name: pb.PackID.String()}
	buf, err := backend.LoadAll(ctx, be, h)
	if err != nil {
		t.Fatal(err)
	}
	buf[pb.Offset+pb.Length/2] ^= 1
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, backend.NewByteReader(buf)); err != nil {
		t.Fatal(err)
	}
}

func lookup(t *testing.T, r *repo.Repository, content []byte) []model.PackedBlob {
	t.Helper()
	return r.Index().Lookup(model.BlobHandle{ID: model.Hash(content), Type: model.DataBlob})
}

func TestSalvage(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	r := open(t, be)
	copies := lookup(t, r, blobContent(0, 0))
	if len(copies) != 2 {
		t.Fatalf("blob 0 of batch 0 is stored %d times, want 2", len(copies))
	}
	lostBlob := lookup(t, r, blobContent(0, 3))[0]
	pack := lostBlob.PackID
	damage(t, be, lostBlob)
	for _, c := range copies { // the copy in the damaged pack is damaged too
		if c.PackID == pack {
			damage(t, be, c)
		}
	}

	buf, err := repairpacks.Download(ctx, r, pack)
	var de *repairpacks.DamagedError
	if !errors.As(err, &de) || len(buf) == 0 {
		t.Errorf("Download of the damaged pack: %d bytes, err %v; want its bytes and a DamagedError", len(buf), err)
	}
	if _, err := repairpacks.Download(ctx, r, model.Hash([]byte("no such pack"))); !backend.IsNotExist(err) {
		t.Errorf("Download of a missing pack: %v, want a not-exist error", err)
	}

	rec := &recorder{Backend: be}
	r = open(t, rec)
	var failed []model.ID
	var counters []string
	err = repairpacks.Run(ctx, r, model.IDSet{pack: {}}, repo.WriteOptions{}, repairpacks.Events{
		BlobFailed: func(id model.ID, err error) {
			failed = append(failed, id)
			if !strings.Contains(err.Error(), "decrypting blob <data/"+id.Str()+"> from pack "+pack.String()+" failed: ciphertext verification failed") {
				t.Errorf("failure of blob %v worded %q", id.Str(), err)
			}
		},
		Progress: func(c prune.Counter) {
			counters = append(counters, fmt.Sprintf("progress %d/%d %s", c.Done, c.Total, c.Name))
		},
		Counter: func(c prune.Counter) { counters = append(counters, fmt.Sprintf("%d/%d %s", c.Done, c.Total, c.Name)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(failed, []model.ID{lostBlob.ID}) {
		t.Errorf("blobs reported lost: %v, want only %v (the other damaged one has a copy)", failed, lostBlob.ID.Str())
	}
	// two index files of newRepo and the salvaged blobs' one
	// each counter reports its start and every step before its end
	wantCounters := []string{
		"progress 0/1 pack files", "progress 1/1 pack files", "1/1 pack files",
		"progress 0/3 indexes processed", "progress 1/3 indexes processed", "progress 2/3 indexes processed", "progress 3/3 indexes processed", "3/3 indexes processed",
		"progress 0/3 old indexes deleted", "progress 1/3 old indexes deleted", "progress 2/3 old indexes deleted", "progress 3/3 old indexes deleted", "3/3 old indexes deleted",
		"progress 0/1 files deleted", "progress 1/1 files deleted", "1/1 files deleted",
	}
	if !slices.Equal(counters, wantCounters) {
		t.Errorf("counters %q, want %q", counters, wantCounters)
	}

	// order: new pack, then the new index, then old index files go, and
	// the damaged pack last
	last := func(prefix string) int {
		i := -1
		for j, op := range rec.ops {
			if strings.HasPrefix(op, prefix) {
				i = j
			}
		}
		return i
	}
	first := func(prefix string) int {
		return slices.IndexFunc(rec.ops, func(op string) bool { return strings.HasPrefix(op, prefix) })
	}
	removePack := "remove data " + pack.String()
	if !(last("save data") < first("save index") && last("save index") < first("remove index") &&
		last("remove index") < first(removePack) && first("save data") >= 0 && first(removePack) == len(rec.ops)-1) {
		t.Errorf("operations out of order:\n%s", strings.Join(rec.ops, "\n"))
	}

	// every other blob is readable from the repaired repository
	r = open(t, be)
	if len(r.Index().Packs()) != 2 || r.Index().Packs().Has(pack) {
		t.Errorf("packs after repair: %v; want the undamaged one and the new one", r.Index().Packs())
	}
	for batch := range 2 {
		for i := range 5 {
			content := blobContent(batch, i)
			got, err := r.LoadBlob(ctx, model.DataBlob, model.Hash(content), nil)
			switch {
			case batch == 0 && i == 3:
				if err == nil {
					t.Errorf("the lost blob is still in the index")
				}
			case err != nil:
				t.Errorf("blob %d of batch %d: %v", i, batch, err)
			case !bytes.Equal(got, content):
				t.Errorf("blob %d of batch %d: wrong content", i, batch)
			}
		}
	}
}

func TestUnindexedPackIsOnlyRemoved(t *testing.T) {
	ctx := context.Background()
	be := newRepo(t)
	r := open(t, be)
	unknown := model.Hash([]byte("not a pack"))
	if err := be.Save(ctx, backend.Handle{Type: backend.PackFile, Name: unknown.String()}, backend.NewByteReader([]byte("junk"))); err != nil {
		t.Fatal(err)
	}
	before := r.Index().Packs()
	var counters []string
	err := repairpacks.Run(ctx, r, model.IDSet{unknown: {}}, repo.WriteOptions{}, repairpacks.Events{
		Counter: func(c prune.Counter) { counters = append(counters, fmt.Sprintf("%d/%d %s", c.Done, c.Total, c.Name)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// as in restic: a pack the index does not list is not salvaged (the
	// counter stays at 0), but removed all the same
	if counters[0] != "0/1 pack files" || counters[len(counters)-1] != "1/1 files deleted" {
		t.Errorf("counters %q", counters)
	}
	if _, err := be.Stat(ctx, backend.Handle{Type: backend.PackFile, Name: unknown.String()}); !backend.IsNotExist(err) {
		t.Errorf("unindexed pack not removed: %v", err)
	}
	after := open(t, be).Index().Packs()
	if len(after) != len(before) {
		t.Errorf("packs in the index: %d before, %d after", len(before), len(after))
	}
}
