package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

const wtPassword = "writer-test-password"

func wtResticBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RESTIC_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("restic"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("restic binary not found (set RESTIC_BIN)")
	}
	t.Skip("restic binary not found (set RESTIC_BIN)")
	return ""
}

// wtRestic runs restic on repoDir and returns its combined output and error.
func wtRestic(t testing.TB, repoDir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(wtResticBin(t), append([]string{"-r", repoDir, "--no-cache"}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+wtPassword)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func wtMustRestic(t testing.TB, repoDir string, args ...string) string {
	t.Helper()
	out, err := wtRestic(t, repoDir, args...)
	if err != nil {
		t.Fatalf("restic %v: %v\n%s", args, err, out)
	}
	return out
}

// wtResticInit makes an empty repository with restic.
func wtResticInit(t testing.TB, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	wtMustRestic(t, dir, "init", "--repository-version", version)
	CheapenKey(t, dir, wtPassword)
	return dir
}

func wtOpen(t testing.TB, be backend.Backend) *Repository {
	t.Helper()
	r, err := Open(context.Background(), be, wtPassword, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func wtOpenDir(t testing.TB, dir string) (*Repository, backend.Backend) {
	t.Helper()
	be, err := local.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return wtOpen(t, be), be
}

// wtFile is a file the tests store: its blobs in order.
type wtFile struct {
	name  string
	blobs [][]byte
}

func (f wtFile) content() []byte { return bytes.Join(f.blobs, nil) }

// wtFiles makes files of random and compressible blobs of many sizes
// (empty, tiny, medium, chunk-sized, larger than the pack size), including
// blobs repeated within and across files.
func wtFiles(seed uint64, packSize int) []wtFile {
	rng := rand.New(rand.NewPCG(seed, 99))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(n int) []byte {
		var b bytes.Buffer
		for b.Len() < n {
			fmt.Fprintf(&b, "line %d of seed %d: the quick brown fox %x\n", rng.IntN(1000), seed, rng.Uint32()%16)
		}
		return b.Bytes()[:n]
	}
	shared := text(30000)
	files := []wtFile{
		{name: "empty"},
		{name: "tiny", blobs: [][]byte{[]byte("x")}},
		{name: "small.txt", blobs: [][]byte{text(100)}},
		{name: "big-random", blobs: [][]byte{random(packSize + packSize/2)}},
		{name: "big-text", blobs: [][]byte{text(packSize + 1000)}},
	}
	for i := range 6 {
		var blobs [][]byte
		for j := range 8 {
			switch (i + j) % 4 {
			case 0:
				blobs = append(blobs, random(20000+rng.IntN(150000)))
			case 1:
				blobs = append(blobs, text(1000+rng.IntN(200000)))
			case 2:
				blobs = append(blobs, shared)
			default:
				blobs = append(blobs, random(1+rng.IntN(3000)))
			}
		}
		files = append(files, wtFile{name: fmt.Sprintf("file%02d", i), blobs: blobs})
	}
	return files
}

// wtSaveFiles stores the files' blobs from several goroutines, then a
// tree per file set (root with a subdirectory) and returns the root tree.
func wtSaveFiles(t testing.TB, ctx context.Context, w *Writer, files []wtFile) model.ID {
	t.Helper()
	ids := make([][]model.ID, len(files))
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	for i, f := range files {
		ids[i] = make([]model.ID, len(f.blobs))
		wg.Go(func() {
			for j, b := range f.blobs {
				id, _, _, err := w.SaveBlob(ctx, model.DataBlob, b, model.ID{})
				if err != nil {
					errs <- err
					return
				}
				if id != model.Hash(b) {
					errs <- fmt.Errorf("SaveBlob returned ID %v for blob with hash %v", id.Str(), model.Hash(b).Str())
					return
				}
				ids[i][j] = id
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	var nodes []*model.Node
	for i, f := range files {
		nodes = append(nodes, &model.Node{
			Name: f.name, Type: model.NodeTypeFile, Mode: 0o644, ModTime: mtime, ChangeTime: mtime,
			Size: uint64(len(f.content())), Links: 1, Content: model.IDs(append([]model.ID{}, ids[i]...)),
		})
	}
	slices.SortFunc(nodes, func(a, b *model.Node) int { return strings.Compare(a.Name, b.Name) })
	sub := wtSaveTree(t, ctx, w, nodes)
	root := wtSaveTree(t, ctx, w, []*model.Node{{
		Name: "sub", Type: model.NodeTypeDir, Mode: os.ModeDir | 0o755, ModTime: mtime, ChangeTime: mtime, Subtree: &sub,
	}})
	return root
}

func wtSaveTree(t testing.TB, ctx context.Context, w *Writer, nodes []*model.Node) model.ID {
	t.Helper()
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _, err := w.SaveBlob(ctx, model.TreeBlob, buf, model.ID{})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func wtSnapshot(t testing.TB, ctx context.Context, r *Repository, tree model.ID, host string) model.ID {
	t.Helper()
	sn := &model.Snapshot{
		Time: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), Tree: &tree, Paths: []string{"/src"},
		Hostname: host, Username: "tester",
	}
	id, err := r.SaveSnapshot(ctx, sn)
	if err != nil {
		t.Fatal(err)
	}
	if sn.ID != id {
		t.Fatal("SaveSnapshot did not set the snapshot's ID")
	}
	return id
}

type wtPack struct {
	id    model.ID
	size  int64
	blobs []model.Blob
}

func wtListPacks(t testing.TB, ctx context.Context, r *Repository) []wtPack {
	t.Helper()
	var packs []wtPack
	err := r.List(ctx, backend.PackFile, func(id model.ID, size int64) error {
		blobs, _, err := r.ListPack(ctx, id, size)
		packs = append(packs, wtPack{id, size, blobs})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return packs
}

// TestWriterResticInterop writes blobs of every kind through the Writer
// into repositories restic created (v1, and v2 with every compression
// mode), and lets restic judge: check --read-data, list blobs, restore and
// dump. arca reads everything back through a freshly opened repository.
func TestWriterResticInterop(t *testing.T) {
	ctx := context.Background()
	const packSize = 512 << 10
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			dir := wtResticInit(t, version)
			modes := []CompressionMode{CompressionOff}
			if version == "2" {
				modes = []CompressionMode{CompressionAuto, CompressionOff, CompressionFastest, CompressionBetter, CompressionMax}
			}
			type written struct {
				mode  CompressionMode
				snap  model.ID
				files []wtFile
			}
			var all []written
			distinct := map[model.BlobHandle]bool{}
			owner := map[model.ID]CompressionMode{} // the mode that stored a blob first
			for i, mode := range modes {
				r, _ := wtOpenDir(t, dir)
				w, err := r.NewWriter(ctx, WriteOptions{Compression: mode, PackSize: packSize})
				if err != nil {
					t.Fatal(err)
				}
				files := wtFiles(uint64(10*i+len(version)), packSize)
				root := wtSaveFiles(t, ctx, w, files)
				// the same blob saved again is known, and its size is 0
				for _, f := range files[1:3] {
					id, known, size, err := w.SaveBlob(ctx, model.DataBlob, f.blobs[0], model.ID{})
					if err != nil || !known || size != 0 || id != model.Hash(f.blobs[0]) {
						t.Fatalf("second save of %s: known %v size %d err %v", f.name, known, size, err)
					}
				}
				if err := w.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				snap := wtSnapshot(t, ctx, r, root, fmt.Sprintf("host-%v", mode))
				all = append(all, written{mode, snap, files})
				for _, f := range files {
					for _, b := range f.blobs {
						distinct[model.BlobHandle{ID: model.Hash(b), Type: model.DataBlob}] = true
						if _, ok := owner[model.Hash(b)]; !ok {
							owner[model.Hash(b)] = mode
						}
					}
				}
				st := w.Stats()
				if st.Packs == 0 || st.IndexFiles == 0 {
					t.Fatalf("stats %+v", st)
				}
				t.Logf("%v: %+v", mode, st)
			}

			out := wtMustRestic(t, dir, "check", "--read-data")
			if !strings.Contains(out, "no errors were found") {
				t.Fatalf("restic check:\n%s", out)
			}

			// restic sees every blob exactly once
			out = wtMustRestic(t, dir, "list", "blobs")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			dataBlobs, treeBlobs := 0, 0
			seen := map[string]bool{}
			for _, l := range lines {
				if seen[l] {
					t.Fatalf("restic lists %q twice", l)
				}
				seen[l] = true
				switch {
				case strings.HasPrefix(l, "data "):
					dataBlobs++
				case strings.HasPrefix(l, "tree "):
					treeBlobs++
				}
			}
			if dataBlobs != len(distinct) {
				t.Fatalf("restic lists %d data blobs, want %d", dataBlobs, len(distinct))
			}
			if treeBlobs != 2*len(modes) {
				t.Fatalf("restic lists %d tree blobs, want %d", treeBlobs, 2*len(modes))
			}

			// pack structure: types never mixed, sizes near the target,
			// compression as the mode asks
			r, _ := wtOpenDir(t, dir)
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			packs := wtListPacks(t, ctx, r)
			compressedData, plainData, compressedTrees := 0, 0, 0
			small := 0
			for _, p := range packs {
				var data int
				for _, b := range p.blobs {
					if b.Type != p.blobs[0].Type {
						t.Fatalf("pack %v mixes data and tree blobs", p.id.Str())
					}
					data += int(b.Length)
					switch {
					case b.Type == model.TreeBlob && b.IsCompressed():
						compressedTrees++
					case b.Type == model.DataBlob && b.IsCompressed():
						compressedData++
					case b.Type == model.DataBlob:
						plainData++
					}
					if pbs := r.Index().Lookup(b.BlobHandle); len(pbs) != 1 || pbs[0].PackID != p.id || pbs[0].Blob != b {
						t.Fatalf("index entry for %v: %+v, pack header says %+v in %v", b.BlobHandle, pbs, b, p.id.Str())
					}
				}
				if len(p.blobs) > 1 && data > packSize+200000 {
					t.Fatalf("pack of %d blob bytes overshoots the target %d by more than a blob", data, packSize)
				}
				if data < packSize {
					small++
				}
			}
			// only the packs a Flush finished early stay below the target:
			// per writer at most the two open data packs and the (merged) tree pack
			if small > 3*len(modes) {
				t.Fatalf("%d of %d packs are below the target size", small, len(packs))
			}
			t.Logf("%d packs, %d below the target size", len(packs), small)
			if version == "1" && (compressedData+compressedTrees != 0) {
				t.Fatal("version 1 repository has compressed blobs")
			}
			if version == "2" && (compressedData == 0 || plainData == 0 || compressedTrees != 2*len(modes)) {
				t.Fatalf("v2: %d compressed data blobs, %d plain, %d compressed trees", compressedData, plainData, compressedTrees)
			}

			for _, wr := range all {
				// arca reads back every blob through the index files it wrote
				for _, f := range wr.files {
					for _, b := range f.blobs {
						got, err := r.LoadBlob(ctx, model.DataBlob, model.Hash(b), nil)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, b) {
							t.Fatalf("%v: blob of %s differs", wr.mode, f.name)
						}
						pb := r.Index().Lookup(model.BlobHandle{ID: model.Hash(b), Type: model.DataBlob})[0]
						mode := owner[model.Hash(b)]
						wantCompressed := version == "2" && mode != CompressionOff && len(b) > 0
						if pb.IsCompressed() != wantCompressed {
							t.Fatalf("%v: blob stored with %v has compressed=%v", wr.mode, mode, pb.IsCompressed())
						}
					}
				}
				// restic restores the files bit for bit
				target := t.TempDir()
				wtMustRestic(t, dir, "restore", wr.snap.String(), "--target", target)
				for _, f := range wr.files {
					got, err := os.ReadFile(filepath.Join(target, "sub", f.name))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, f.content()) {
						t.Fatalf("%v: restic restored %s with %d bytes, want %d", wr.mode, f.name, len(got), len(f.content()))
					}
				}
				f := wr.files[len(wr.files)-1]
				out := wtMustRestic(t, dir, "dump", wr.snap.String(), "/sub/"+f.name)
				if out != string(f.content()) {
					t.Fatalf("%v: restic dump of %s differs", wr.mode, f.name)
				}
			}
		})
	}
}

// wtMemRepo creates a repository in memory (no restic needed).
func wtMemRepo(t testing.TB, version uint, be backend.Backend) *Repository {
	t.Helper()
	if be == nil {
		be = mem.New()
	}
	r, err := Create(context.Background(), be, wtPassword, CreateOptions{Version: version, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestWriterDedupConcurrent(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := wtMemRepo(t, 2, be)
	w, err := r.NewWriter(ctx, WriteOptions{PackSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	blobs := make([][]byte, 20)
	for i := range blobs {
		blobs[i] = make([]byte, 1000+rng.IntN(30000))
		for j := range blobs[i] {
			blobs[i][j] = byte(rng.Uint32())
		}
	}
	var known, stored atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 3 * len(blobs) {
				b := blobs[(k+g)%len(blobs)]
				typ := model.DataBlob
				if k%2 == 1 {
					typ = model.TreeBlob // the same bytes as a tree blob are a different blob
				}
				var id model.ID
				if g%2 == 0 {
					id = model.Hash(b) // callers may pass the ID
				}
				_, kn, size, err := w.SaveBlob(ctx, typ, b, id)
				if err != nil {
					t.Error(err)
					return
				}
				if kn {
					known.Add(1)
					if size != 0 {
						t.Errorf("known blob reported size %d", size)
					}
				} else {
					stored.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if stored.Load() != 2*int64(len(blobs)) {
		t.Fatalf("%d blobs stored, want %d (each once per type)", stored.Load(), 2*len(blobs))
	}
	if known.Load()+stored.Load() != 8*3*int64(len(blobs)) {
		t.Fatalf("known %d + stored %d", known.Load(), stored.Load())
	}
	// a fresh repository sees each blob once, in the index files and packs
	r2 := wtOpen(t, be)
	if err := r2.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if n := r2.Index().Len(); n != 2*len(blobs) {
		t.Fatalf("index has %d entries, want %d", n, 2*len(blobs))
	}
	inPacks := 0
	for _, p := range wtListPacks(t, ctx, r2) {
		inPacks += len(p.blobs)
	}
	if inPacks != 2*len(blobs) {
		t.Fatalf("packs hold %d blobs, want %d", inPacks, 2*len(blobs))
	}
	// a second writer knows them all
	w2, err := r2.NewWriter(ctx, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		for _, typ := range []model.BlobType{model.DataBlob, model.TreeBlob} {
			if _, kn, _, err := w2.SaveBlob(ctx, typ, b, model.ID{}); err != nil || !kn {
				t.Fatalf("second writer: known %v err %v", kn, err)
			}
		}
	}
	if err := w2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w2.Stats(); st.Packs != 0 || st.IndexFiles != 0 {
		t.Fatalf("writer with only known blobs wrote %+v", st)
	}
}

// wtRecorder is a backend that records the order of saved files and can
// block or fail pack uploads.
type wtRecorder struct {
	backend.Backend
	mu     sync.Mutex
	saved  []backend.Handle
	active int
	peak   int
	// onPack runs before each pack upload (nil: none); an error fails it
	onPack func(ctx context.Context, n int) error
	packs  int
}

func (b *wtRecorder) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	b.mu.Lock()
	b.active++
	b.peak = max(b.peak, b.active)
	n := b.packs
	if h.Type == backend.PackFile {
		b.packs++
	}
	hook := b.onPack
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.active--
		b.mu.Unlock()
	}()
	if h.Type == backend.PackFile && hook != nil {
		if err := hook(ctx, n); err != nil {
			return err
		}
	}
	if err := b.Backend.Save(ctx, h, rd); err != nil {
		return err
	}
	b.mu.Lock()
	b.saved = append(b.saved, h)
	b.mu.Unlock()
	return nil
}

// TestWriterWriteOrder checks that every index file names only packs
// already stored, that the snapshot comes after the index, that index
// files are written in batches while the writer runs and stay under the
// size cap, and that uploads stay within the backend's connection limit.
func TestWriterWriteOrder(t *testing.T) {
	ctx := context.Background()
	rec := &wtRecorder{Backend: mem.NewWithProperties(backend.Properties{Connections: 3})}
	r := wtMemRepo(t, 2, rec)
	w, err := r.NewWriter(ctx, WriteOptions{PackSize: 32 << 10, Compression: CompressionOff})
	if err != nil {
		t.Fatal(err)
	}
	w.indexMaxBlobs = 40
	w.indexMaxBytes = 6000
	w.indexHardCap = 12000
	w.maxPackBlobs = 30
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(3, uint64(g)))
			buf := make([]byte, 5000)
			for i := range 100 {
				for j := range buf {
					buf[j] = byte(rng.Uint32() ^ uint32(g))
				}
				buf = buf[:1+i*50%5000]
				if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, buf, model.ID{}); err != nil {
					t.Error(err)
				}
				buf = buf[:cap(buf)] // the caller reuses buf at once
			}
		})
	}
	wg.Wait()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	tree := wtSaveTree(t, ctx, w, nil)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wtSnapshot(t, ctx, r, tree, "h")

	rec.mu.Lock()
	saved := slices.Clone(rec.saved)
	peak := rec.peak
	rec.mu.Unlock()
	if peak > 3 {
		t.Fatalf("%d concurrent uploads, connection limit is 3", peak)
	}
	stored := map[string]bool{}
	indexFiles := 0
	for i, h := range saved {
		switch h.Type {
		case backend.PackFile:
			stored[h.Name] = true
		case backend.IndexFile:
			indexFiles++
			id, _ := model.ParseID(h.Name)
			plain, err := r.LoadUnpacked(ctx, backend.IndexFile, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(plain) > 12000 {
				t.Fatalf("index file of %d bytes, cap 12000", len(plain))
			}
			f, err := index.DecodeFile(plain)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range f.Packs {
				if !stored[p.ID.String()] {
					t.Fatalf("index %s names pack %s before it was stored", id.Str(), p.ID.Str())
				}
			}
		case backend.SnapshotFile:
			if i != len(saved)-1 || saved[i-1].Type != backend.IndexFile {
				t.Fatalf("snapshot saved at position %d of %d", i, len(saved))
			}
		}
	}
	if indexFiles < 5 || indexFiles != len(w.IndexFiles()) {
		t.Fatalf("%d index files written (writer reports %d), want batches", indexFiles, len(w.IndexFiles()))
	}
	// every blob is readable through the written index
	r2 := wtOpen(t, rec.Backend)
	if err := r2.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if r2.Index().Len() != r.Index().Len() || r2.Index().Len() != w.Stats().Blobs {
		t.Fatalf("index files hold %d blobs, writer stored %d", r2.Index().Len(), w.Stats().Blobs)
	}
	var all []model.PackedBlob
	r2.Index().Each(func(pb model.PackedBlob) bool {
		all = append(all, pb)
		return true
	})
	for _, pb := range all {
		if _, err := r2.LoadBlob(ctx, pb.Type, pb.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriterInterrupted cancels a writer mid-way: restic check still
// passes, and a new writer reuses the packs whose index files were
// written.
func TestWriterInterrupted(t *testing.T) {
	dir := wtResticInit(t, "2")
	r, be := wtOpenDir(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &wtRecorder{Backend: be}
	rec.onPack = func(ctx context.Context, n int) error {
		if n == 10 {
			cancel()
			return ctx.Err()
		}
		return nil
	}
	r.be = rec
	w, err := r.NewWriter(ctx, WriteOptions{PackSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w.indexMaxBlobs = 2
	files := wtFiles(77, 64<<10)
	var saveErr error
	var saved [][]byte
	for _, f := range files {
		for _, b := range f.blobs {
			if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, b, model.ID{}); err != nil {
				saveErr = err
				break
			}
			saved = append(saved, b)
		}
		if saveErr != nil {
			break
		}
	}
	if saveErr == nil {
		saveErr = w.Flush(ctx)
	}
	if !errors.Is(saveErr, context.Canceled) {
		t.Fatalf("interrupted writer returned %v", saveErr)
	}
	if err := w.Flush(context.Background()); err == nil {
		t.Fatal("Flush after the interruption succeeded")
	}
	indexed := len(w.IndexFiles())
	if indexed == 0 {
		t.Fatal("no index file was written before the interruption")
	}

	out := wtMustRestic(t, dir, "check")
	if !strings.Contains(out, "no errors were found") {
		t.Fatalf("restic check after interruption:\n%s", out)
	}
	t.Logf("restic check after the interruption:\n%s", out)

	// a new writer finds the indexed blobs known and stores the rest
	ctx2 := context.Background()
	r2, _ := wtOpenDir(t, dir)
	w2, err := r2.NewWriter(ctx2, WriteOptions{PackSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	known := 0
	for _, b := range saved {
		_, kn, _, err := w2.SaveBlob(ctx2, model.DataBlob, b, model.ID{})
		if err != nil {
			t.Fatal(err)
		}
		if kn {
			known++
		}
	}
	if known == 0 {
		t.Fatalf("none of the %d blobs saved before the interruption is reused", len(saved))
	}
	t.Logf("%d of %d blobs reused from %d index files", known, len(saved), indexed)
	root := wtSaveFiles(t, ctx2, w2, files)
	if err := w2.Flush(ctx2); err != nil {
		t.Fatal(err)
	}
	snap := wtSnapshot(t, ctx2, r2, root, "h")
	out = wtMustRestic(t, dir, "check", "--read-data")
	if !strings.Contains(out, "no errors were found") {
		t.Fatalf("restic check:\n%s", out)
	}
	target := t.TempDir()
	wtMustRestic(t, dir, "restore", snap.String(), "--target", target)
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(target, "sub", f.name))
		if err != nil || !bytes.Equal(got, f.content()) {
			t.Fatalf("restored %s differs (err %v)", f.name, err)
		}
	}
}

// TestWriterUploadError: a failing upload surfaces from SaveBlob or Flush,
// and the blobs of the failed pack do not count as stored.
func TestWriterUploadError(t *testing.T) {
	ctx := context.Background()
	rec := &wtRecorder{Backend: mem.New()}
	boom := errors.New("disk on fire")
	rec.onPack = func(context.Context, int) error { return &backend.PermanentError{Err: boom} }
	r := wtMemRepo(t, 2, rec)
	w, err := r.NewWriter(ctx, WriteOptions{PackSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20<<10)
	var got error
	for i := 0; i < 100 && got == nil; i++ {
		buf[0], buf[1] = byte(i), byte(i>>8)
		_, _, _, got = w.SaveBlob(ctx, model.DataBlob, buf, model.ID{})
	}
	if got == nil {
		got = w.Flush(ctx)
	}
	if !errors.Is(got, boom) {
		t.Fatalf("error %v, want the backend's", got)
	}
	if err := w.Flush(ctx); !errors.Is(err, boom) {
		t.Fatalf("Flush after failure: %v", err)
	}
	if r.Index().Len() != 0 {
		t.Fatalf("index has %d blobs from failed uploads", r.Index().Len())
	}
}

// TestWriterBackpressure: with uploads stuck, SaveBlob stops accepting
// blobs once the pack slots are full instead of buffering without bound.
func TestWriterBackpressure(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	var started atomic.Int64
	rec := &wtRecorder{Backend: mem.NewWithProperties(backend.Properties{Connections: 2})}
	rec.onPack = func(ctx context.Context, _ int) error {
		started.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r := wtMemRepo(t, 1, rec)
	w, err := r.NewWriter(ctx, WriteOptions{PackSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	const total = 60
	var accepted atomic.Int64
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 20<<10) // each blob fills a pack
		for i := range total {
			buf[0] = byte(i)
			if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, buf, model.ID{}); err != nil {
				done <- err
				return
			}
			accepted.Add(1)
		}
		done <- w.Flush(ctx)
	}()
	// wait until every slot holds a pack, then give the saver time to run ahead
	for len(w.slots) < cap(w.slots) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := accepted.Load(); n > int64(cap(w.slots))+1 {
		t.Fatalf("%d blobs accepted with %d pack slots and uploads stuck", n, cap(w.slots))
	}
	if s := started.Load(); s > 2 {
		t.Fatalf("%d uploads started, connection limit 2", s)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if accepted.Load() != total || w.Stats().Packs != total {
		t.Fatalf("accepted %d, packs %d", accepted.Load(), w.Stats().Packs)
	}
}

func TestWriterOptions(t *testing.T) {
	ctx := context.Background()
	for _, s := range []string{"auto", "off", "fastest", "better", "max"} {
		m, err := ParseCompression(s)
		if err != nil || m.String() != s {
			t.Fatalf("ParseCompression(%q) = %v, %v", s, m, err)
		}
		var v CompressionMode
		if err := v.Set(s); err != nil || v != m {
			t.Fatalf("Set(%q)", s)
		}
	}
	if _, err := ParseCompression("fast"); err == nil || err.Error() != `invalid compression mode "fast", must be one of (auto|off|fastest|better|max)` {
		t.Fatalf("ParseCompression(fast): %v", err)
	}
	var zero CompressionMode
	if zero != CompressionAuto {
		t.Fatal("zero compression mode is not auto")
	}
	r := wtMemRepo(t, 2, nil)
	if _, err := r.NewWriter(ctx, WriteOptions{PackSize: MaxPackSize + 1}); err == nil {
		t.Fatal("pack size above the limit accepted")
	}
	if _, err := r.NewWriter(ctx, WriteOptions{Compression: 17}); err == nil {
		t.Fatal("invalid compression accepted")
	}
	w, err := r.NewWriter(ctx, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.packSize != DefaultPackSize {
		t.Fatalf("default pack size %d", w.packSize)
	}
	if _, _, _, err := w.SaveBlob(ctx, model.InvalidBlob, []byte("x"), model.ID{}); err == nil {
		t.Fatal("invalid blob type accepted")
	}
	// a version-1 repository never compresses, whatever the mode
	r1 := wtMemRepo(t, 1, nil)
	w1, err := r1.NewWriter(ctx, WriteOptions{Compression: CompressionMax})
	if err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("aaaa"), 10000)
	_, _, size, err := w1.SaveBlob(ctx, model.TreeBlob, text, model.ID{})
	if err != nil || size != len(text)+crypto.Extension+37 {
		t.Fatalf("v1 tree blob: size %d err %v", size, err)
	}
	// v2 compresses trees even with compression off
	w2, err := r.NewWriter(ctx, WriteOptions{Compression: CompressionOff})
	if err != nil {
		t.Fatal(err)
	}
	_, _, size, err = w2.SaveBlob(ctx, model.TreeBlob, text, model.ID{})
	if err != nil || size >= len(text)/10 {
		t.Fatalf("v2 tree blob with compression off: size %d err %v", size, err)
	}
	_, _, size, err = w2.SaveBlob(ctx, model.DataBlob, text, model.ID{})
	if err != nil || size != len(text)+crypto.Extension+37 {
		t.Fatalf("v2 data blob with compression off: size %d err %v", size, err)
	}
	// an empty blob cannot be compressed (uncompressed length 0 means plain)
	_, _, size, err = w2.SaveBlob(ctx, model.DataBlob, nil, model.ID{})
	if err != nil || size != crypto.Extension+37 {
		t.Fatalf("empty blob: size %d err %v", size, err)
	}
	w3, err := r.NewWriter(ctx, WriteOptions{Compression: CompressionAuto})
	if err != nil {
		t.Fatal(err)
	}
	_, _, size, err = w3.SaveBlob(ctx, model.DataBlob, []byte{}, model.ID{})
	if err != nil || size != crypto.Extension+37 {
		t.Fatalf("empty blob with compression: size %d err %v", size, err)
	}
	// the all-zero chunk shortcut gives the real hash
	zero512 := make([]byte, 512<<10)
	if hashBlob(zero512) != model.Hash(zero512) {
		t.Fatal("zero chunk ID")
	}
	zero512[len(zero512)-1] = 1
	if hashBlob(zero512) != model.Hash(zero512) {
		t.Fatal("almost-zero chunk ID")
	}
}

// wtDiscard stores index and snapshot files but drops packs, so a
// benchmark measures the writer's CPU path, not the storage.
type wtDiscard struct{ backend.Backend }

func (b wtDiscard) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if h.Type == backend.PackFile {
		return nil
	}
	return b.Backend.Save(ctx, h, rd)
}

// BenchmarkWriter measures SaveBlob throughput (hash, compress, seal,
// verify, pack, finalize) with one saver goroutine per core, as the
// archiver calls it, on 1 MiB blobs.
func BenchmarkWriter(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var tb bytes.Buffer
	for tb.Len() < 1<<20 {
		fmt.Fprintf(&tb, "%d some log line text with a number %x and words\n", rng.IntN(100000), rng.Uint64())
	}
	text := tb.Bytes()[:1<<20]
	cases := []struct {
		name    string
		data    []byte
		mode    CompressionMode
		noCheck bool
	}{
		{"random/off", random, CompressionOff, false},
		{"random/off/noverify", random, CompressionOff, true},
		{"random/auto", random, CompressionAuto, false},
		{"text/auto", text, CompressionAuto, false},
		{"text/auto/noverify", text, CompressionAuto, true},
		{"text/fastest", text, CompressionFastest, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			r := wtMemRepo(b, 2, wtDiscard{mem.New()})
			w, err := r.NewWriter(ctx, WriteOptions{Compression: c.mode, NoExtraVerify: c.noCheck})
			if err != nil {
				b.Fatal(err)
			}
			var counter atomic.Uint64
			b.SetBytes(int64(len(c.data)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				buf := slices.Clone(c.data)
				for pb.Next() {
					n := counter.Add(1)
					for i := range 8 {
						buf[i] = byte(n >> (8 * i)) // distinct blobs, no dedup
					}
					if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, buf, model.ID{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// A discarding writer (dry run) reports the same blobs and sizes as a
// storing one, packs each blob once, and stores nothing: no pack, no
// index file, nothing in the repository's index, also after Abandon.
func TestWriterDiscard(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	blobs := make([][]byte, 30)
	for i := range blobs {
		blobs[i] = make([]byte, 1000+rng.IntN(20000))
		for j := range blobs[i] {
			blobs[i][j] = byte(rng.IntN(16)) // compressible
		}
	}
	save := func(discard bool) (sizes []int, w *Writer, be *mem.Backend, r *Repository) {
		be = mem.New()
		r = wtMemRepo(t, 2, be)
		w, err := r.NewWriter(ctx, WriteOptions{PackSize: 64 << 10, Discard: discard})
		if err != nil {
			t.Fatal(err)
		}
		for k := range 2 * len(blobs) { // each blob twice: the second is known
			_, known, size, err := w.SaveBlob(ctx, model.DataBlob, blobs[k%len(blobs)], model.ID{})
			if err != nil {
				t.Fatal(err)
			}
			if known != (k >= len(blobs)) {
				t.Fatalf("discard %v: blob %d known %v", discard, k, known)
			}
			sizes = append(sizes, size)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return sizes, w, be, r
	}
	real, rw, _, _ := save(false)
	dry, dw, be, r := save(true)
	// blobs go to packs at random, so which blob's size includes a pack's
	// header, and how many packs there are, differ between runs; the
	// bytes of sealed blobs and header entries do not
	blobBytes := func(s WriterStats) int64 { return s.PackBytes - int64(s.Packs)*pack.HeaderOverhead }
	ds, rs := dw.Stats(), rw.Stats()
	if blobBytes(ds) != blobBytes(rs) || ds.Blobs != rs.Blobs || ds.Packs == 0 || ds.IndexFiles != 0 {
		t.Errorf("stats: dry run %+v, real %+v", ds, rs)
	}
	for i := range dry {
		if (dry[i] == 0) != (real[i] == 0) || dry[i] != 0 && dry[i] < real[i]-pack.HeaderOverhead || dry[i] > real[i]+pack.HeaderOverhead {
			t.Errorf("blob %d: dry run reported %d bytes, real run %d", i, dry[i], real[i])
		}
	}
	if err := dw.Abandon(ctx); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []backend.FileType{backend.PackFile, backend.IndexFile} {
		n := 0
		if err := be.List(ctx, typ, func(backend.FileInfo) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("the dry run stored %d %v files", n, typ)
		}
	}
	if r.Index().Has(model.BlobHandle{ID: model.Hash(blobs[0]), Type: model.DataBlob}) {
		t.Error("the dry run's blobs are in the repository's index")
	}
}

// A scratch keeps the pages its blobs touched, except the part beyond
// LongBlob after a long blob and all but slowScratchKeep under
// --compression max, where touching pages again costs nothing against the
// compression.
func TestWriterScratchResident(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 9))
	page := os.Getpagesize()
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// most returns the largest resident size among the writer's scratches
	most := func(t *testing.T, w *Writer) int {
		t.Helper()
		top := 0
		for _, s := range w.scratch.Values() { // no blob is being saved
			if s.arena == nil {
				continue
			}
			n, ok := s.arena.Resident()
			if !ok {
				t.Skip("this platform cannot tell resident pages")
			}
			top = max(top, n)
		}
		return top
	}
	for _, c := range []struct {
		mode            CompressionMode
		afterShort, max int // bounds after a short and after a long blob
	}{
		{CompressionAuto, 2 << 20, sealBound(LongBlob) + page},
		{CompressionMax, 0, slowScratchKeep + page},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			r := wtMemRepo(t, 2, nil)
			w, err := r.NewWriter(ctx, WriteOptions{Compression: c.mode})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, blob(2<<20), model.ID{}); err != nil {
				t.Fatal(err)
			}
			n := most(t, w)
			switch {
			case c.afterShort > 0 && n < c.afterShort:
				t.Errorf("after a 2 MiB blob the scratch holds %d bytes, want it kept", n)
			case c.afterShort == 0 && n > c.max:
				t.Errorf("after a 2 MiB blob the scratch holds %d bytes, want at most %d", n, c.max)
			}
			if _, _, _, err := w.SaveBlob(ctx, model.DataBlob, blob(LongBlob+2<<20), model.ID{}); err != nil {
				t.Fatal(err)
			}
			if n := most(t, w); n > c.max {
				t.Errorf("after a long blob the scratch holds %d bytes, want at most %d", n, c.max)
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
