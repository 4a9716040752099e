package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// damagedRepo is a restic repository with two snapshots that lost data:
// the data pack of the first backup is deleted (and the index rebuilt by
// restic without it), so unchanged files lost their content; the index no
// longer lists the first snapshot's root tree and the tree of src/keep, so
// the first snapshot is unreadable and the second has an unreadable
// directory.
type damagedRepo struct {
	fx  *resticFixture
	ids []string // first and second snapshot
}

func newDamagedRepo(t *testing.T) *damagedRepo {
	t.Helper()
	dir := t.TempDir()
	fx := &resticFixture{Repo: filepath.Join(dir, "repo"), Password: "repair-pw", Source: filepath.Join(dir, "src")}
	env := fx.Env()
	mustRestic(t, env, "init", "--repository-version", "2")
	if err := cheapenKey(fx.Repo, fx.Password); err != nil {
		t.Fatal(err)
	}
	b := newSourceTreeBuilder(fx.Source)
	b.write("keep/a.txt", []byte("file a\n"), 0o644)
	b.write("keep/sub/b.bin", fixtureRandomBytes("repair-b", 200<<10), 0o644)
	b.write("top.txt", fixtureText("repair-top", 5000), 0o644)
	b.write("changed.txt", []byte("first version\n"), 0o644)
	b.finish()
	if b.err != nil {
		t.Fatal(b.err)
	}
	first := backupInDir(t, env, dir, "2024-02-01 10:00:00")
	firstPacks := packTypes(t, fx)
	b.write("changed.txt", []byte("second version\n"), 0o644)
	b.write("new/sub/c.txt", []byte("new file\n"), 0o644)
	b.finish()
	if b.err != nil {
		t.Fatal(b.err)
	}
	second := backupInDir(t, env, dir, "2024-02-02 10:00:00")
	for pack, tpe := range firstPacks {
		if tpe != model.DataBlob {
			continue
		}
		if err := os.Remove(filepath.Join(fx.Repo, "data", pack[:2], pack)); err != nil {
			t.Fatal(err)
		}
	}
	mustRestic(t, env, "repair", "index")
	dropTrees(t, fx, first, second)
	return &damagedRepo{fx: fx, ids: []string{first, second}}
}

// dropTrees removes the root tree of snapshot first and the tree of
// src/keep in snapshot second from the index files.
func dropTrees(t *testing.T, fx *resticFixture, first, second string) {
	t.Helper()
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
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	drop := model.IDSet{}
	for i, id := range []string{first, second} {
		sid, err := model.ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		sn, err := r.LoadSnapshot(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			drop.Insert(*sn.Tree)
			continue
		}
		keep, err := r.SubtreeID(ctx, *sn.Tree, "src/keep")
		if err != nil {
			t.Fatal(err)
		}
		drop.Insert(keep)
	}
	var files []model.ID
	if err := r.List(ctx, backend.IndexFile, func(id model.ID, _ int64) error {
		files = append(files, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, id := range files {
		f, err := r.LoadIndexFile(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Packs {
			n := len(f.Packs[i].Blobs)
			f.Packs[i].Blobs = slices.DeleteFunc(f.Packs[i].Blobs, func(b index.BlobJSON) bool {
				return b.Type == model.TreeBlob && drop.Has(b.ID)
			})
			dropped += n - len(f.Packs[i].Blobs)
		}
		buf, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.SaveUnpacked(ctx, backend.IndexFile, buf); err != nil {
			t.Fatal(err)
		}
		if err := be.Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()}); err != nil {
			t.Fatal(err)
		}
	}
	if dropped != 2 {
		t.Fatalf("dropped %d tree blobs from the index, want 2", dropped)
	}
}

// backupInDir backs up "src" below dir with restic at the given time.
func backupInDir(t *testing.T, env []string, dir, when string) string {
	t.Helper()
	bin := resticBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), resticTimeout)
	defer cancel()
	out, stderr, exit, err := execRestic(ctx, bin, dir, resticTestCommandEnv(t.TempDir(), env),
		"backup", "--json", "--host", "repair-host", "--time", when, "src")
	if err != nil || exit != 0 {
		t.Fatalf("restic backup: exit %d, %v\n%s", exit, err, stderr)
	}
	id, err := backupSnapshotID(out)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// packTypes returns the packs of a repository and the type of their blobs.
func packTypes(t *testing.T, fx *resticFixture) map[string]model.BlobType {
	t.Helper()
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
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	packs := map[string]model.BlobType{}
	r.Index().Each(func(pb model.PackedBlob) bool {
		packs[pb.PackID.String()] = pb.Type
		return true
	})
	return packs
}

// TestRepairSnapshotsInterop repairs the same damaged repository with arca
// and restic: same messages, same new trees, and after --forget (and
// restic's repair index, for the packs whose trees the test unindexed)
// restic check --read-data passes on arca's result.
func TestRepairSnapshotsInterop(t *testing.T) {
	d := newDamagedRepo(t)
	if _, _, code := runRestic(t, d.fx.Env(), "check"); code == 0 {
		t.Fatal("restic check passes on the damaged repository")
	}
	p := newRewritePair(t, d.fx)

	out := p.same(t, "repair", "snapshots", "--dry-run", d.ids[0], d.ids[1])
	for _, want := range []string{
		"would delete empty snapshot",
		`  dir "/": not readable`,
		`  dir "/src/keep": replaced with empty directory`,
		`  file "/src/top.txt": removed missing content`,
		"would save new snapshot",
		"would modify 2 snapshots",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if n := len(rewriteSnapshotList(t, p.arcaEnv, nil)); n != 2 {
		t.Errorf("%d snapshots after a dry run, want 2", n)
	}

	out = p.same(t, "repair", "snapshots", d.ids[0], d.ids[1])
	if !strings.Contains(out, "removed empty snapshot "+d.ids[0][:8]) || !strings.Contains(out, "modified 2 snapshots") {
		t.Errorf("unexpected output:\n%s", out)
	}
	snaps := rewriteSnapshotList(t, p.arcaEnv, nil)
	if len(snaps) != 2 || !strings.Contains(strings.Join(snaps, "\n"), `"repaired"`) {
		t.Errorf("snapshots after repair:\n%s", strings.Join(snaps, "\n"))
	}
	// repairing the repaired snapshot changes nothing (the old one is still broken)
	p.same(t, "repair", "snapshots", "--tag", "repaired")

	// with --forget the broken snapshots go and the repository checks clean
	p2 := newRewritePair(t, d.fx)
	out = p2.same(t, "repair", "snapshots", "--forget", d.ids[0], d.ids[1])
	if !strings.Contains(out, "removed old snapshot "+d.ids[1][:8]) {
		t.Errorf("unexpected output:\n%s", out)
	}
	// the packs still hold the trees dropped from the index: index them
	// again (restic check --read-data hangs on such packs), then check
	mustRestic(t, p2.arcaEnv, "repair", "index")
	mustRestic(t, p2.arcaEnv, "check", "--read-data")
	target := t.TempDir()
	mustRestic(t, p2.arcaEnv, "restore", "latest", "--target", target)
	got, err := os.ReadFile(filepath.Join(target, "src", "new", "sub", "c.txt"))
	if err != nil || string(got) != "new file\n" {
		t.Errorf("restored new/sub/c.txt: %q, %v", got, err)
	}
	if fi, err := os.Stat(filepath.Join(target, "src", "top.txt")); err != nil || fi.Size() != 0 {
		t.Errorf("top.txt lost its content and should restore empty: %v, %v", fi, err)
	}
	entries, _ := os.ReadDir(filepath.Join(target, "src", "keep"))
	if len(entries) != 0 {
		t.Errorf("unreadable directory restored with %d entries", len(entries))
	}
}
