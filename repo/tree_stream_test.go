package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// TestLoadLargeTree stores trees above streamTreesFrom and loads them: one
// in the shape that is decoded as it is decompressed, one with a name
// that needs an escape (read whole instead), and one stored under an ID
// that is not its hash (damaged). In a version 1 repository trees are not
// compressed and are read whole.
func TestLoadLargeTree(t *testing.T) {
	ctx := context.Background()
	mtime := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	nodes := func(odd string) []*model.Node {
		var out []*model.Node
		for i := range 4000 {
			out = append(out, &model.Node{Name: fmt.Sprintf("file-%05d%s", i, odd), Type: model.NodeTypeFile, Mode: 0o644,
				ModTime: mtime, AccessTime: mtime, ChangeTime: mtime, User: "user", Group: "group", Inode: uint64(i),
				Size: uint64(i), Links: 1, Content: model.IDs{model.Hash([]byte{byte(i)}), model.Hash([]byte{byte(i >> 8)})}})
		}
		return out
	}
	plain, escaped := nodes(""), nodes(`"quoted"`)
	for _, version := range []uint{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			r := wtMemRepo(t, version, nil)
			w, err := r.NewWriter(ctx, WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			plainID := wtSaveTree(t, ctx, w, plain)
			escapedID := wtSaveTree(t, ctx, w, escaped)
			damagedID := model.Hash([]byte("not the tree's hash"))
			buf, _ := model.EncodeTree(plain[:3000])
			if len(buf) < streamTreesFrom {
				t.Fatalf("tree of %d bytes is below streamTreesFrom", len(buf))
			}
			if _, _, _, err := w.SaveBlob(ctx, model.TreeBlob, buf, damagedID); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}

			for _, c := range []struct {
				id    model.ID
				nodes []*model.Node
			}{{plainID, plain}, {escapedID, escaped}} {
				tree, err := r.LoadTree(ctx, c.id)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := model.EncodeTree(tree.Nodes)
				want, _ := model.EncodeTree(c.nodes)
				if string(got) != string(want) {
					t.Errorf("tree %v loaded with other nodes", c.id.Str())
				}
			}
			if _, err := r.LoadTree(ctx, damagedID); !errors.Is(err, pack.ErrBlobHash) {
				t.Errorf("tree stored under another ID: %v", err)
			}
			if version == 1 {
				return
			}

			// the stream decoder on its own: a tree for the plain blob,
			// neither tree nor error for the escaped one, the hash
			// mismatch for the damaged one
			stream := func(id model.ID) (*model.Tree, error) {
				pb := r.Index().Lookup(model.BlobHandle{ID: id, Type: model.TreeBlob})[0]
				stored := make([]byte, pb.Length)
				err := r.be.Load(ctx, backend.Handle{Type: backend.PackFile, Name: pb.PackID.String()}, int(pb.Length), int64(pb.Offset),
					func(rd io.Reader) error { _, err := io.ReadFull(rd, stored); return err })
				if err != nil {
					t.Fatal(err)
				}
				return r.decodeTreeStream(pb, stored)
			}
			if tree, err := stream(plainID); err != nil || tree == nil || len(tree.Nodes) != len(plain) {
				t.Errorf("plain tree streamed: %v", err)
			}
			if tree, err := stream(escapedID); err != nil || tree != nil {
				t.Errorf("escaped tree streamed: %v, %v", tree != nil, err)
			}
			if _, err := stream(damagedID); !errors.Is(err, pack.ErrBlobHash) {
				t.Errorf("damaged tree streamed: %v", err)
			}
		})
	}
}
