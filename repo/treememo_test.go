package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/model"
)

// packLoads counts the Load calls on pack files.
type packLoads struct {
	backend.Backend
	mu sync.Mutex
	n  int
}

func (b *packLoads) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Type == backend.PackFile {
		b.mu.Lock()
		b.n++
		b.mu.Unlock()
	}
	return b.Backend.Load(ctx, h, length, offset, fn)
}

func (b *packLoads) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// TestTreeMemo: without a cache, a remote repository reads a small tree
// pack once for all its trees; a local one reads each tree by itself. A
// damaged tree fails as it does without the memo, and the trees beside it
// still load.
func TestTreeMemo(t *testing.T) {
	ctx := context.Background()
	mtime := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	for _, remote := range []bool{true, false} {
		t.Run(fmt.Sprintf("remote=%v", remote), func(t *testing.T) {
			inner := mem.NewWithProperties(backend.Properties{Connections: 2, Remote: remote})
			w0 := wtMemRepo(t, 2, inner)
			w, err := w0.NewWriter(ctx, WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			const trees = 40
			var ids []model.ID
			var encoded [][]byte
			for i := range trees {
				nodes := []*model.Node{{Name: fmt.Sprintf("file-%d", i), Type: model.NodeTypeFile, Mode: 0o644,
					ModTime: mtime, AccessTime: mtime, ChangeTime: mtime, Size: uint64(i), Content: model.IDs{}}}
				ids = append(ids, wtSaveTree(t, ctx, w, nodes))
				buf, _ := model.EncodeTree(nodes)
				encoded = append(encoded, buf)
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}

			// a repository as a new command opens it
			open := func(be backend.Backend) *Repository {
				r, err := Open(ctx, be, wtPassword, OpenOptions{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(r.Close)
				if err := r.LoadIndex(ctx); err != nil {
					t.Fatal(err)
				}
				return r
			}
			counted := &packLoads{Backend: inner}
			r := open(counted)
			load := func(i int) error {
				tree, err := r.LoadTree(ctx, ids[i])
				if err != nil {
					return err
				}
				got, _ := model.EncodeTree(tree.Nodes)
				if !bytes.Equal(got, encoded[i]) {
					t.Errorf("tree %d loaded with other nodes", i)
				}
				return nil
			}
			var wg sync.WaitGroup
			for i := range trees {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := load(i); err != nil {
						t.Errorf("tree %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			want := 1
			if !remote {
				want = trees
			}
			if n := counted.count(); n != want {
				t.Fatalf("%d pack reads for %d trees, want %d", n, trees, want)
			}

			// damage one tree in the stored pack; a fresh repository
			// reports it as a blob that fails its MAC, as it would
			// without the memo, and reads the others
			pb := r.Index().Lookup(model.BlobHandle{ID: ids[7], Type: model.TreeBlob})[0]
			h := backend.Handle{Type: backend.PackFile, Name: pb.PackID.String()}
			data, err := backend.LoadAll(ctx, inner, h)
			if err != nil {
				t.Fatal(err)
			}
			data[pb.Offset+pb.Length/2] ^= 1
			if err := inner.Remove(ctx, h); err != nil {
				t.Fatal(err)
			}
			if err := inner.Save(ctx, h, backend.NewByteReader(data)); err != nil {
				t.Fatal(err)
			}
			r = open(inner)
			if err := load(7); !errors.Is(err, crypto.ErrUnauthenticated) || !errors.Is(err, ErrDamaged) {
				t.Errorf("damaged tree: %v, want a damaged blob that fails to decrypt", err)
			}
			for _, i := range []int{6, 8} {
				if err := load(i); err != nil {
					t.Errorf("tree %d beside the damaged one: %v", i, err)
				}
			}
		})
	}
}
