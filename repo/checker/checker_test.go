package checker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/checker"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

const testPassword = "checker test"

// testRepo is a small repository in memory: two snapshots sharing a
// subtree, data and tree blobs in separate packs.
type testRepo struct {
	be       *mem.Backend
	password string
	roots    []model.ID // root tree of each snapshot
	snaps    []model.ID
	files    map[string]model.ID // data blob of each file in the shared subtree
	unused   model.ID            // a data blob no tree references
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	return writeTestRepo(t, func(tr *testRepo, save func(model.BlobType, []byte) model.ID) {
		var nodes []*model.Node
		for _, name := range []string{"a", "b", "c"} {
			id := save(model.DataBlob, []byte(strings.Repeat(name, 5000)))
			tr.files[name] = id
			nodes = append(nodes, &model.Node{Name: name, Type: model.NodeTypeFile, Content: model.IDs{id}})
		}
		tr.unused = save(model.DataBlob, []byte("nobody refers to me"))
		sub := saveTree(t, save, nodes)
		for i := range 2 {
			extra := save(model.DataBlob, []byte{byte(i), 1, 2, 3})
			root := saveTree(t, save, []*model.Node{
				{Name: "extra", Type: model.NodeTypeFile, Content: model.IDs{extra}},
				{Name: "sub", Type: model.NodeTypeDir, Subtree: &sub},
			})
			tr.roots = append(tr.roots, root)
		}
	})
}

// writeTestRepo creates a repository on a memory backend, lets fill save
// blobs (and set tr.roots), stores them and saves a snapshot of each root.
func writeTestRepo(t *testing.T, fill func(tr *testRepo, save func(model.BlobType, []byte) model.ID)) *testRepo {
	t.Helper()
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Create(ctx, be, testPassword, repo.CreateOptions{Version: 2, KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := r.NewWriter(ctx, repo.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr := &testRepo{be: be, password: testPassword, files: map[string]model.ID{}}
	fill(tr, func(typ model.BlobType, buf []byte) model.ID {
		id, _, _, err := w.SaveBlob(ctx, typ, buf, model.ID{})
		if err != nil {
			t.Fatal(err)
		}
		return id
	})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, root := range tr.roots {
		sn := &model.Snapshot{Time: time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC), Tree: &root, Paths: []string{"/x"}, Hostname: "h"}
		id, err := r.SaveSnapshot(ctx, sn)
		if err != nil {
			t.Fatal(err)
		}
		tr.snaps = append(tr.snaps, id)
	}
	return tr
}

func saveTree(t *testing.T, save func(model.BlobType, []byte) model.ID, nodes []*model.Node) model.ID {
	t.Helper()
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return save(model.TreeBlob, buf)
}

func (tr *testRepo) open(t *testing.T) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), tr.be, tr.password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func (tr *testRepo) list(t *testing.T, typ backend.FileType) []string {
	t.Helper()
	var names []string
	err := tr.be.List(context.Background(), typ, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func (tr *testRepo) load(t *testing.T, h backend.Handle) []byte {
	t.Helper()
	buf, err := backend.LoadAll(context.Background(), tr.be, h)
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// replace stores buf under h instead of what is there.
func (tr *testRepo) replace(t *testing.T, h backend.Handle, buf []byte) {
	t.Helper()
	ctx := context.Background()
	if err := tr.be.Remove(ctx, h); err != nil && !backend.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := tr.be.Save(ctx, h, backend.NewByteReader(buf)); err != nil {
		t.Fatal(err)
	}
}

// packOf returns the pack holding blob h according to the index.
func (tr *testRepo) packOf(t *testing.T, h model.BlobHandle) model.ID {
	t.Helper()
	r := tr.open(t)
	if err := r.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	pbs := r.Index().Lookup(h)
	if len(pbs) != 1 {
		t.Fatalf("%v: %d copies", h, len(pbs))
	}
	return pbs[0].PackID
}

// result is everything one full check reported.
type result struct {
	index, packs, structure, data []error
	packsRead                     int
}

type runOptions struct {
	structure checker.StructureOptions
	filter    checker.PackFilter
}

func runCheck(t *testing.T, tr *testRepo, o runOptions) (result, *checker.Checker) {
	t.Helper()
	ctx := context.Background()
	c := checker.New(tr.open(t))
	var res result
	collect := func(dst *[]error) checker.Report { return func(p error) { *dst = append(*dst, p) } }
	if err := c.LoadIndex(ctx, collect(&res.index), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Packs(ctx, collect(&res.packs)); err != nil {
		t.Fatal(err)
	}
	if err := c.Structure(ctx, o.structure, collect(&res.structure)); err != nil {
		t.Fatal(err)
	}
	filter := o.filter
	if filter == nil {
		filter = func(p map[model.ID]int64) map[model.ID]int64 { return p }
	}
	err := c.ReadPacks(ctx, filter, func(done, _ int) { res.packsRead = done }, collect(&res.data))
	if err != nil {
		t.Fatal(err)
	}
	return res, c
}

func TestHealthyRepository(t *testing.T) {
	tr := newTestRepo(t)
	var progress [][2]int
	var mu sync.Mutex
	res, c := runCheck(t, tr, runOptions{structure: checker.StructureOptions{
		TrackUnused: true,
		Progress: func(done, total int) {
			mu.Lock()
			progress = append(progress, [2]int{done, total})
			mu.Unlock()
		},
	}})
	if len(res.index)+len(res.packs)+len(res.structure)+len(res.data) != 0 {
		t.Fatalf("problems in a healthy repository: %+v", res)
	}
	if packs := len(tr.list(t, backend.PackFile)); res.packsRead != packs || packs < 2 {
		t.Errorf("read %d packs of %d", res.packsRead, packs)
	}
	if last := progress[len(progress)-1]; last != [2]int{2, 2} {
		t.Errorf("final snapshot progress %v, want 2 of 2", last)
	}
	unused, err := c.UnusedBlobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(unused) != 1 || unused[0].ID != tr.unused {
		t.Errorf("unused blobs %v, want only %v", unused, tr.unused.Str())
	}
}

func TestStructureProblems(t *testing.T) {
	ctx := context.Background()
	tr := newTestRepo(t)
	r := tr.open(t)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := r.NewWriter(ctx, repo.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	save := func(typ model.BlobType, buf []byte) model.ID {
		id, _, _, err := w.SaveBlob(ctx, typ, buf, model.ID{})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	missingData := model.Hash([]byte("never stored"))
	missingTree := model.Hash([]byte("no such tree"))
	var null model.ID
	bad := saveTree(t, save, []*model.Node{
		{Name: "", Type: model.NodeTypeSymlink},
		{Name: "dir-nosub", Type: model.NodeTypeDir},
		{Name: "dir-null", Type: model.NodeTypeDir, Subtree: &null},
		{Name: "dir-ok", Type: model.NodeTypeDir, Subtree: &missingTree},
		{Name: "f-missing", Type: model.NodeTypeFile, Content: model.IDs{tr.files["a"], missingData}},
		{Name: "f-nil", Type: model.NodeTypeFile},
		{Name: "f-null", Type: model.NodeTypeFile, Content: model.IDs{null}},
		{Name: "weird", Type: "bogus"},
	})
	undecodable := save(model.TreeBlob, []byte(`{"nodes":[{"name":1}]}`))
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, root := range []model.ID{bad, undecodable} {
		if _, err := r.SaveSnapshot(ctx, &model.Snapshot{Time: time.Now(), Tree: &root, Hostname: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	// a snapshot file that does not match its name
	brokenSnap := model.Hash([]byte("broken snapshot"))
	tr.replace(t, backend.Handle{Type: backend.SnapshotFile, Name: brokenSnap.String()}, []byte("garbage"))

	res, _ := runCheck(t, tr, runOptions{})
	if len(res.index)+len(res.packs)+len(res.data) != 0 {
		t.Fatalf("unexpected index, pack or data problems: %+v", res)
	}
	trees := map[model.ID][]string{}
	var snapErrs []*checker.SnapshotError
	for _, p := range res.structure {
		var te *checker.TreeError
		var se *checker.SnapshotError
		switch {
		case errors.As(p, &te):
			if _, dup := trees[te.TreeID]; dup {
				t.Errorf("tree %v reported twice", te.TreeID.Str())
			}
			for _, e := range te.Errors {
				trees[te.TreeID] = append(trees[te.TreeID], e.Error())
			}
		case errors.As(p, &se):
			snapErrs = append(snapErrs, se)
		default:
			t.Errorf("unexpected problem %T: %v", p, p)
		}
	}
	if len(snapErrs) != 1 || snapErrs[0].SnapshotID != brokenSnap {
		t.Errorf("snapshot errors %v, want one for %v", snapErrs, brokenSnap.Str())
	}
	want := []string{
		`node with empty name`,
		`dir node "dir-nosub" has no subtree`,
		`dir node "dir-null" subtree id is null`,
		`file "f-missing" blob ` + missingData.String() + ` not found in index`,
		`file "f-nil" has nil blob list`,
		`file "f-null" blob 0 has null ID`,
		`node "weird" with invalid type "bogus"`,
	}
	got := trees[bad]
	if len(got) != len(want) {
		t.Fatalf("tree %v: problems\n%s\nwant\n%s", bad.Str(), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) || !strings.HasPrefix(got[i], "tree "+bad.String()+": ") {
			t.Errorf("tree problem %d: %q, want tree ID and %q", i, got[i], want[i])
		}
	}
	if got := trees[missingTree]; len(got) != 1 || got[0] != "id "+missingTree.String()+" not found in repository" {
		t.Errorf("missing subtree: %q", got)
	}
	if got := trees[undecodable]; len(got) != 1 || !strings.Contains(got[0], "failed to decode tree "+undecodable.String()) {
		t.Errorf("undecodable tree: %q", got)
	}
	if len(trees) != 3 {
		t.Errorf("%d trees with problems, want 3: %v", len(trees), trees)
	}
}

func TestIndexProblems(t *testing.T) {
	ctx := context.Background()
	tr := newTestRepo(t)
	r := tr.open(t)
	idxFiles := tr.list(t, backend.IndexFile)
	if len(idxFiles) != 1 {
		t.Fatalf("%d index files, want 1", len(idxFiles))
	}
	id, _ := model.ParseID(idxFiles[0])
	f, err := r.LoadIndexFile(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// a second file listing the first pack identically, a third listing
	// the second pack without its last blob, and a damaged file
	dup := &index.File{Packs: f.Packs[:1]}
	short := f.Packs[1]
	short.Blobs = short.Blobs[:len(short.Blobs)-1]
	if len(short.Blobs) == 0 {
		t.Fatal("want a pack with two blobs or more")
	}
	for _, nf := range []*index.File{dup, {Packs: []index.PackJSON{short}}} {
		buf, err := nf.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.SaveUnpacked(ctx, backend.IndexFile, buf); err != nil {
			t.Fatal(err)
		}
	}
	damaged := model.Hash([]byte("damaged index"))
	tr.replace(t, backend.Handle{Type: backend.IndexFile, Name: damaged.String()}, []byte("not an index at all, not even sealed"))

	c := checker.New(tr.open(t))
	var got []error
	if err := c.LoadIndex(ctx, func(p error) { got = append(got, p) }, nil); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, p := range got {
		var ie *checker.IndexError
		var inc *checker.IncompletePackError
		var dh *checker.DuplicatePackHint
		switch {
		case errors.As(p, &ie) && ie.IndexID == damaged:
			kinds = append(kinds, "damaged index")
		case errors.As(p, &inc) && inc.PackID == short.ID && len(inc.Indexes) == 2:
			kinds = append(kinds, "incomplete pack")
		case errors.As(p, &dh) && dh.PackID == f.Packs[0].ID && len(dh.Indexes) == 2 && checker.IsHint(p):
			kinds = append(kinds, "duplicate pack")
		default:
			t.Errorf("unexpected problem %T: %v", p, p)
		}
	}
	slices.Sort(kinds)
	if want := []string{"damaged index", "duplicate pack", "incomplete pack"}; !slices.Equal(kinds, want) {
		t.Errorf("problems %v, want %v", kinds, want)
	}
}

func TestPackProblems(t *testing.T) {
	tr := newTestRepo(t)
	dataPack := tr.packOf(t, model.BlobHandle{ID: tr.files["a"], Type: model.DataBlob})
	treePack := tr.packOf(t, model.BlobHandle{ID: tr.roots[0], Type: model.TreeBlob})
	// the data pack loses its last byte, the tree pack disappears, and a
	// pack no index knows appears
	h := backend.Handle{Type: backend.PackFile, Name: dataPack.String()}
	buf := tr.load(t, h)
	tr.replace(t, h, buf[:len(buf)-1])
	if err := tr.be.Remove(context.Background(), backend.Handle{Type: backend.PackFile, Name: treePack.String()}); err != nil {
		t.Fatal(err)
	}
	orphan := model.Hash([]byte("orphan"))
	tr.replace(t, backend.Handle{Type: backend.PackFile, Name: orphan.String()}, []byte("orphan"))

	res, _ := runCheck(t, tr, runOptions{})
	want := map[model.ID]string{
		dataPack: "truncated",
		treePack: "missing",
		orphan:   "orphaned",
	}
	if len(res.packs) != len(want) {
		t.Fatalf("pack problems %v", res.packs)
	}
	for _, p := range res.packs {
		var pe *checker.PackError
		if !errors.As(p, &pe) {
			t.Fatalf("unexpected problem %T: %v", p, p)
		}
		kind := "missing"
		switch {
		case pe.Orphaned:
			kind = "orphaned"
		case pe.Truncated:
			kind = "truncated"
		}
		if want[pe.PackID] != kind {
			t.Errorf("pack %v: %s (%v), want %s", pe.PackID.Str(), kind, p, want[pe.PackID])
		}
	}
	// every tree is in the missing pack
	if len(res.structure) == 0 {
		t.Error("no structure problems with the tree pack missing")
	}
	// reading data: the truncated pack cannot be downloaded, the missing
	// one neither
	var downloads []model.ID
	for _, p := range res.data {
		var de *checker.PackDownloadError
		if errors.As(p, &de) {
			downloads = append(downloads, de.PackID)
		}
	}
	if len(downloads) != 2 {
		t.Errorf("download errors for %v, want the truncated and the missing pack: %v", downloads, res.data)
	}
}

func TestReadPacksFindsDamage(t *testing.T) {
	tr := newTestRepo(t)
	dataPack := tr.packOf(t, model.BlobHandle{ID: tr.files["b"], Type: model.DataBlob})
	h := backend.Handle{Type: backend.PackFile, Name: dataPack.String()}
	buf := tr.load(t, h)
	buf[20] ^= 1
	tr.replace(t, h, buf)

	res, _ := runCheck(t, tr, runOptions{})
	if len(res.index)+len(res.packs)+len(res.structure) != 0 {
		t.Fatalf("a flipped data byte is only visible when reading data: %+v", res)
	}
	if len(res.data) != 1 {
		t.Fatalf("data problems %v, want one", res.data)
	}
	var pd *checker.PackDataError
	if !errors.As(res.data[0], &pd) || pd.PackID != dataPack {
		t.Fatalf("problem %T %v, want a PackDataError for %v", res.data[0], res.data[0], dataPack.Str())
	}
	msg := res.data[0].Error()
	if !strings.Contains(msg, "unexpected pack id") || !strings.Contains(msg, "ciphertext verification failed") {
		t.Errorf("problem %q does not name the hash mismatch and the damaged blob", msg)
	}

	// a bucket that does not hold the pack reads nothing damaged
	for _, n := range []uint{1, 2} {
		res, _ := runCheck(t, tr, runOptions{filter: func(p map[model.ID]int64) map[model.ID]int64 {
			return checker.SelectBucket(p, n, 2)
		}})
		found := len(res.data) > 0
		if wantFound := uint(dataPack[0])%2 == n-1; found != wantFound {
			t.Errorf("group %d/2: found damage %v, want %v", n, found, wantFound)
		}
	}
}

func TestFilteredReadsOnlySelectedPacks(t *testing.T) {
	tr := newTestRepo(t)
	// the unused blob's pack is read when checking everything; a check
	// limited to snapshot 0 reads only packs holding its blobs
	all, _ := runCheck(t, tr, runOptions{})
	one, _ := runCheck(t, tr, runOptions{structure: checker.StructureOptions{Filtered: true, Trees: tr.roots[:1]}})
	none, _ := runCheck(t, tr, runOptions{structure: checker.StructureOptions{Filtered: true}})
	if one.packsRead == 0 || one.packsRead > all.packsRead {
		t.Errorf("filtered check read %d packs, full check %d", one.packsRead, all.packsRead)
	}
	if none.packsRead != 0 {
		t.Errorf("check of no snapshots read %d packs", none.packsRead)
	}
}

func TestSelectBucketAndRandom(t *testing.T) {
	packs := map[model.ID]int64{}
	for i := range 256 {
		var id model.ID
		id[0], id[1] = byte(i), 7
		packs[id] = int64(i + 1)
	}
	seen := map[model.ID]int{}
	for n := uint(1); n <= 3; n++ {
		for id := range checker.SelectBucket(packs, n, 3) {
			seen[id]++
			if uint(id[0])%3 != n-1 {
				t.Errorf("pack %x in group %d/3", id[0], n)
			}
		}
	}
	if len(seen) != len(packs) {
		t.Errorf("groups cover %d of %d packs", len(seen), len(packs))
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("pack %x in %d groups", id[0], k)
		}
	}
}

func TestStructureCancelled(t *testing.T) {
	tr := newTestRepo(t)
	c := checker.New(tr.open(t))
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.LoadIndex(ctx, func(error) {}, nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := c.Structure(ctx, checker.StructureOptions{}, func(error) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Structure after cancel: %v", err)
	}
	err = c.ReadPacks(ctx, nil, nil, func(error) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadPacks after cancel: %v", err)
	}
}

// TestIndexLacksBlob: an index entry that lost one blob of a pack makes the
// pack's size disagree, the file referencing the blob incomplete, and
// reading the pack (as far as the index says it goes, like restic) finds
// a content hash that does not match the name.
func TestIndexLacksBlob(t *testing.T) {
	ctx := context.Background()
	tr := newTestRepo(t)
	lost := tr.files["b"]
	r := tr.open(t)
	idxFiles := tr.list(t, backend.IndexFile)
	id, _ := model.ParseID(idxFiles[0])
	f, err := r.LoadIndexFile(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var pack model.ID
	for i, p := range f.Packs {
		for j, b := range p.Blobs {
			if b.ID == lost {
				pack = p.ID
				f.Packs[i].Blobs = slices.Delete(p.Blobs, j, j+1)
				break
			}
		}
	}
	buf, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveUnpacked(ctx, backend.IndexFile, buf); err != nil {
		t.Fatal(err)
	}
	if err := tr.be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()}); err != nil {
		t.Fatal(err)
	}

	res, _ := runCheck(t, tr, runOptions{})
	var pe *checker.PackError
	if len(res.packs) != 1 || !errors.As(res.packs[0], &pe) || !pe.Truncated || pe.PackID != pack {
		t.Errorf("pack problems %v, want a size mismatch of %v", res.packs, pack.Str())
	}
	var te *checker.TreeError
	if len(res.structure) != 1 || !errors.As(res.structure[0], &te) || !strings.Contains(res.structure[0].Error(), lost.String()+" not found in index") {
		t.Errorf("structure problems %v, want the blob of file b missing", res.structure)
	}
	var pd *checker.PackDataError
	if len(res.data) != 1 || !errors.As(res.data[0], &pd) || pd.PackID != pack {
		t.Fatalf("data problems %v, want one for pack %v", res.data, pack.Str())
	}
	msg := res.data[0].Error()
	// (a gap is reported too unless the lost blob was the pack's last)
	for _, want := range []string{"unexpected pack id"} {
		if !strings.Contains(msg, want) {
			t.Errorf("data problem %q lacks %q", msg, want)
		}
	}
}

// TestReadPacksLargeBlobs: blobs larger than a reader's usual room (a data
// blob stored larger than the largest chunk, one that decodes to more than
// that, a tree of that size), read between small ones, verify like any
// other, and damage in the largest is found.
func TestReadPacksLargeBlobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 9<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := []byte(strings.Repeat("a large compressible blob ", (9<<20)/26))
	tr := writeTestRepo(t, func(tr *testRepo, save func(model.BlobType, []byte) model.ID) {
		var nodes []*model.Node
		for i, content := range [][]byte{[]byte("small before"), random, text, []byte("small after")} {
			id := save(model.DataBlob, content)
			name := fmt.Sprintf("f%d", i)
			tr.files[name] = id
			nodes = append(nodes, &model.Node{Name: name, Type: model.NodeTypeFile, Content: model.IDs{id}})
		}
		// a tree of more than 9 MiB: many entries with long names
		for i := range 40000 {
			nodes = append(nodes, &model.Node{Name: fmt.Sprintf("g%05d-%s", i, strings.Repeat("n", 200)), Type: model.NodeTypeFile, Content: model.IDs{}})
		}
		tr.roots = []model.ID{saveTree(t, save, nodes)}
	})
	r := tr.open(t)
	if err := r.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tb, err := r.LoadBlob(context.Background(), model.TreeBlob, tr.roots[0], nil); err != nil || len(tb) < 9<<20 {
		t.Fatalf("tree of %d bytes (%v), want more than 9 MiB", len(tb), err)
	}

	res, _ := runCheck(t, tr, runOptions{})
	if len(res.index)+len(res.packs)+len(res.structure)+len(res.data) != 0 {
		t.Fatalf("problems in a healthy repository: %+v", res)
	}

	bigPack := tr.packOf(t, model.BlobHandle{ID: tr.files["f1"], Type: model.DataBlob})
	h := backend.Handle{Type: backend.PackFile, Name: bigPack.String()}
	buf := tr.load(t, h)
	buf[5<<20] ^= 1
	tr.replace(t, h, buf)
	res, _ = runCheck(t, tr, runOptions{})
	var pd *checker.PackDataError
	if len(res.data) != 1 || !errors.As(res.data[0], &pd) || pd.PackID != bigPack {
		t.Fatalf("data problems %v, want one for pack %v", res.data, bigPack.Str())
	}
}
