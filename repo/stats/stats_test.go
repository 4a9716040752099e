package stats

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"path"
	"testing"

	"github.com/arca-backup/arca/repo/model"
)

// memSource holds trees and blobs in memory.
type memSource struct {
	trees map[model.ID]*model.Tree
	blobs map[model.BlobHandle]model.PackedBlob
	loads int
}

func newMemSource() *memSource {
	return &memSource{trees: map[model.ID]*model.Tree{}, blobs: map[model.BlobHandle]model.PackedBlob{}}
}

func (s *memSource) LoadTree(_ context.Context, id model.ID) (*model.Tree, error) {
	s.loads++
	t, ok := s.trees[id]
	if !ok {
		return nil, fmt.Errorf("tree %s not found", id.Str())
	}
	return t, nil
}

func (s *memSource) LookupBlob(h model.BlobHandle) []model.PackedBlob {
	if pb, ok := s.blobs[h]; ok {
		return []model.PackedBlob{pb}
	}
	return nil
}

func (s *memSource) tree(t testing.TB, nodes ...*model.Node) model.ID {
	t.Helper()
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	id := model.Hash(buf)
	s.trees[id] = &model.Tree{Nodes: nodes}
	s.blobs[model.BlobHandle{ID: id, Type: model.TreeBlob}] = model.PackedBlob{Blob: model.Blob{
		BlobHandle: model.BlobHandle{ID: id, Type: model.TreeBlob}, Length: uint(len(buf)/2 + 32), UncompressedLength: uint(len(buf)),
	}}
	return id
}

// data registers an uncompressed data blob of size plaintext bytes.
func (s *memSource) data(name string, size uint) model.ID {
	id := model.Hash([]byte(name))
	s.blobs[model.BlobHandle{ID: id, Type: model.DataBlob}] = model.PackedBlob{Blob: model.Blob{
		BlobHandle: model.BlobHandle{ID: id, Type: model.DataBlob}, Length: size + 32,
	}}
	return id
}

func fileNode(name string, size uint64, links uint64, inode uint64, content ...model.ID) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeFile, Size: size, Links: links, Inode: inode, DeviceID: 7, Content: content}
}

func dirNode(name string, sub model.ID) *model.Node {
	return &model.Node{Name: name, Type: model.NodeTypeDir, Links: 2, Subtree: &sub}
}

func count(t testing.TB, src Source, mode Mode, version int, roots ...model.ID) (Result, ProgressState) {
	t.Helper()
	p := &Progress{}
	c, err := NewCounter(src, Options{Mode: mode, RepoVersion: version, Progress: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roots {
		if err := c.AddSnapshot(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Result()
	if err != nil {
		t.Fatal(err)
	}
	return res, p.State()
}

func TestRestoreSizeHardlinks(t *testing.T) {
	s := newMemSource()
	a := s.data("a", 10)
	sub := s.tree(t, fileNode("link2", 10, 2, 99, a), fileNode("plain", 5, 1, 1, s.data("p", 5)))
	root := s.tree(t, fileNode("link1", 10, 2, 99, a), dirNode("sub", sub), fileNode("zero-inode", 3, 2, 0, s.data("z", 3)))
	res, prog := count(t, s, RestoreSize, 2, root, root)
	// per snapshot: 5 items; bytes 10 (link once) + 5 + 3
	if res.TotalFileCount != 10 || res.TotalSize != 36 || res.SnapshotsCount != 2 {
		t.Errorf("restore-size: %+v", res)
	}
	if prog.Snapshots != 2 || prog.Files != 5 || prog.Bytes != 28 {
		t.Errorf("progress (last snapshot): %+v", prog)
	}
}

func TestFilesByContentsAndBlobsPerFile(t *testing.T) {
	s := newMemSource()
	a, b := s.data("a", 100), s.data("b", 50)
	sub := s.tree(t, fileNode("same-as-x", 100, 1, 2, a))
	r1 := s.tree(t, dirNode("d", sub), fileNode("x", 100, 1, 1, a), fileNode("y", 150, 1, 3, a, b))
	r2 := s.tree(t, fileNode("x", 50, 1, 1, b), fileNode("y", 150, 1, 3, a, b))

	res, _ := count(t, s, FilesByContents, 2, r1, r2)
	// distinct contents: none (the directory), [a], [a b], [b]
	if res.TotalFileCount != 4 || res.TotalSize != 0+100+150+50 {
		t.Errorf("files-by-contents: %+v", res)
	}

	res, prog := count(t, s, BlobsPerFile, 2, r1, r2)
	// /d/same-as-x: a; /y: b (a is new for this path too) -> a, a, b; /x in r2: b
	if res.TotalFileCount != 3 || res.TotalBlobCount != 4 || res.TotalSize != 100+100+50+50 {
		t.Errorf("blobs-per-file: %+v", res)
	}
	if prog.Files != 2 || prog.Blobs != 1 {
		t.Errorf("progress: %+v", prog)
	}
}

func TestRawData(t *testing.T) {
	s := newMemSource()
	a, b := s.data("a", 100), s.data("b", 50)
	sub := s.tree(t, fileNode("f", 100, 1, 1, a))
	r1 := s.tree(t, dirNode("d", sub), fileNode("g", 150, 1, 2, a, b))
	r2 := s.tree(t, dirNode("d", sub))
	treeBlob := func(id model.ID) model.PackedBlob { return s.blobs[model.BlobHandle{ID: id, Type: model.TreeBlob}] }

	res, _ := count(t, s, RawData, 2, r1, r2)
	var stored, plain, compStored, compPlain uint64
	for _, pb := range []model.PackedBlob{treeBlob(sub), treeBlob(r1), treeBlob(r2)} {
		stored += uint64(pb.Length)
		plain += uint64(pb.UncompressedLength) + 32
		compStored += uint64(pb.Length)
		compPlain += uint64(pb.UncompressedLength) + 32
	}
	stored += 132 + 82
	plain += 132 + 82
	if res.TotalBlobCount != 5 || res.TotalSize != stored || res.TotalUncompressedSize != plain {
		t.Errorf("raw-data: %+v, want 5 blobs, %d stored, %d plain", res, stored, plain)
	}
	if want := float64(compPlain) / float64(compStored); res.CompressionRatio != want {
		t.Errorf("ratio %v, want %v", res.CompressionRatio, want)
	}
	if want := float64(compPlain) / float64(plain) * 100; res.CompressionProgress != want {
		t.Errorf("progress %v, want %v", res.CompressionProgress, want)
	}

	v1, _ := count(t, s, RawData, 1, r1, r2)
	if v1.TotalSize != stored || v1.TotalUncompressedSize != 0 || v1.CompressionRatio != 0 || v1.CompressionSpaceSaving != 0 {
		t.Errorf("raw-data v1: %+v", v1)
	}

	c, _ := NewCounter(s, Options{Mode: RawData})
	delete(s.blobs, model.BlobHandle{ID: b, Type: model.DataBlob})
	if err := c.AddSnapshot(context.Background(), r1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Result(); err == nil {
		t.Error("missing blob: no error")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []string{"restore-size", "files-by-contents", "blobs-per-file", "raw-data"} {
		if got, err := ParseMode(m); err != nil || string(got) != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("debug"); err == nil {
		t.Error("ParseMode(debug): no error")
	}
}

// reference is a plain implementation of the counting rules, walking every
// tree every time, to check the counter's reuse of subtree results.
type reference struct {
	src    *memSource
	mode   Mode
	res    Result
	unique map[[32]byte]bool
	paths  map[string]map[model.ID]bool
}

func (r *reference) snapshot(t *testing.T, root model.ID) {
	r.res.SnapshotsCount++
	links := map[[2]uint64]bool{}
	var walk func(id model.ID, p string)
	walk = func(id model.ID, p string) {
		for _, n := range r.src.trees[id].Nodes {
			np := path.Join(p, n.Name)
			switch r.mode {
			case RestoreSize:
				r.res.TotalFileCount++
				k := [2]uint64{n.Inode, n.DeviceID}
				if n.Links == 1 || n.Type == model.NodeTypeDir || !links[k] || n.Inode == 0 {
					links[k] = n.Links != 1 && n.Type != model.NodeTypeDir || links[k]
					r.res.TotalSize += n.Size
				}
			default:
				var all []byte
				for _, c := range n.Content {
					all = append(all, c[:]...)
				}
				key := sha256.Sum256(all)
				if r.unique[key] {
					break
				}
				r.unique[key] = true
				if r.mode == FilesByContents {
					r.res.TotalFileCount++
					r.res.TotalSize += n.Size
					break
				}
				for _, c := range n.Content {
					if r.paths[np] == nil {
						r.paths[np] = map[model.ID]bool{}
						r.res.TotalFileCount++
					}
					if !r.paths[np][c] {
						r.paths[np][c] = true
						r.res.TotalBlobCount++
						r.res.TotalSize += uint64(r.src.LookupBlob(model.BlobHandle{ID: c, Type: model.DataBlob})[0].DataLength())
					}
				}
			}
			if n.Type == model.NodeTypeDir {
				walk(*n.Subtree, np)
			}
		}
	}
	walk(root, "/")
}

// TestCounterMatchesReference builds random snapshots that share subtrees
// (some with hard links) and checks every mode against the reference.
func TestCounterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := newMemSource()
	blobs := make([]model.ID, 12)
	for i := range blobs {
		blobs[i] = s.data(fmt.Sprint("blob", i), uint(10+i))
	}
	var pool []model.ID // subtrees to reuse
	var mk func(depth int) model.ID
	mk = func(depth int) model.ID {
		var nodes []*model.Node
		for i := range 2 + rng.IntN(4) {
			name := fmt.Sprintf("n%02d", i)
			switch {
			case depth > 0 && rng.IntN(3) == 0:
				var sub model.ID
				if len(pool) > 0 && rng.IntN(2) == 0 {
					sub = pool[rng.IntN(len(pool))]
				} else {
					sub = mk(depth - 1)
				}
				nodes = append(nodes, dirNode(name, sub))
			default:
				var content model.IDs
				for range rng.IntN(3) {
					content = append(content, blobs[rng.IntN(len(blobs))])
				}
				links := uint64(1)
				if rng.IntN(4) == 0 {
					links = 2
				}
				nodes = append(nodes, fileNode(name, uint64(rng.IntN(1000)), links, uint64(rng.IntN(5)), content...))
			}
		}
		id := s.tree(t, nodes...)
		pool = append(pool, id)
		return id
	}
	var roots []model.ID
	for range 6 {
		roots = append(roots, mk(4))
	}
	roots = append(roots, roots[2]) // the same snapshot tree twice

	for _, mode := range []Mode{RestoreSize, FilesByContents, BlobsPerFile} {
		ref := &reference{src: s, mode: mode, unique: map[[32]byte]bool{}, paths: map[string]map[model.ID]bool{}}
		for _, r := range roots {
			ref.snapshot(t, r)
		}
		got, _ := count(t, s, mode, 2, roots...)
		if got != ref.res {
			t.Errorf("%s: counter %+v, reference %+v", mode, got, ref.res)
		}
	}
}
