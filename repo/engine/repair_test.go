package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/filter"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/recovery"
	"github.com/arca-backup/arca/repo/repairindex"
	"github.com/arca-backup/arca/repo/rewriter"
)

// repoFiles returns the names of the files below dir in the repository
// (data, index, snapshots, locks), sorted.
func repoFiles(t *testing.T, loc, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(loc, dir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(d.Name(), "-tmp-") {
			out = append(out, p)
		}
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// listPaths returns the paths of the snapshot's files and directories.
func listPaths(t *testing.T, r *engine.Repository, snapshot string) map[string]*model.Node {
	t.Helper()
	out := map[string]*model.Node{}
	err := r.List(context.Background(), snapshot, func(e engine.Entry) error {
		out[e.Path] = e.Node
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", snapshot, err)
	}
	return out
}

// backupTwice backs up src with files a, then again with b added; it
// returns the second snapshot and the largest pack the second backup
// added (the one holding b's content).
func backupTwice(t *testing.T, r *engine.Repository, loc string) (snap *model.Snapshot, src, bPack string) {
	t.Helper()
	ctx := context.Background()
	src = filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"keep/a.bin": bytes.Repeat([]byte("a"), 64<<10)})
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Host: "h"}); err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, p := range repoFiles(t, loc, "data") {
		before[p] = true
	}
	writeTree(t, src, randomFiles(7, 1, 200<<10)) // sub/filea
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, p := range repoFiles(t, loc, "data") {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !before[p] && fi.Size() > size {
			bPack, size = p, fi.Size()
		}
	}
	if bPack == "" {
		t.Fatal("the second backup added no pack")
	}
	return res.Snapshot, src, bPack
}

func TestRewriteExcludeRemovesFile(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a.txt": []byte("keep\n"), "dir/b.secret": []byte("drop\n")})
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := res.Snapshot.ID

	var excluded []string
	dry, err := r.Rewrite(ctx, engine.RewriteOptions{
		Excludes: []filter.RejectFunc{filter.RejectByPattern([]string{"*.secret"}, nil)},
		DryRun:   true,
		Excluded: func(p string) { excluded = append(excluded, p) },
	})
	if err != nil || len(dry.Changed) != 1 || dry.Changed[0] != old {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if snaps, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil); len(snaps) != 1 || snaps[0].ID != old {
		t.Fatalf("a dry run changed the snapshots: %v", snaps)
	}
	if len(excluded) != 1 || !strings.HasSuffix(excluded[0], "/dir/b.secret") {
		t.Errorf("excluded %q, want .../dir/b.secret", excluded)
	}

	var saved []model.ID
	got, err := r.Rewrite(ctx, engine.RewriteOptions{
		Snapshots: engine.SnapshotSelection{Names: []string{old.Str()}},
		Excludes:  []filter.RejectFunc{filter.RejectByPattern([]string{"*.secret"}, nil)},
		Forget:    true,
		Events:    engine.ReplaceEvents{Replace: rewriter.ReplaceEvents{Saved: func(id model.ID) { saved = append(saved, id) }}},
	})
	if err != nil || len(got.Changed) != 1 || len(saved) != 1 {
		t.Fatalf("rewrite: %+v (saved %v), %v", got, saved, err)
	}
	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if err != nil || len(snaps) != 1 || snaps[0].ID != saved[0] {
		t.Fatalf("after rewrite --forget: %v, %v (want only %s)", snaps, err, saved[0].Str())
	}
	if snaps[0].Original == nil || *snaps[0].Original != old {
		t.Errorf("new snapshot's original is %v, want %s", snaps[0].Original, old.Str())
	}
	paths := listPaths(t, r, saved[0].String())
	var hasA, hasB bool
	for p := range paths {
		hasA = hasA || strings.HasSuffix(p, "/a.txt")
		hasB = hasB || strings.HasSuffix(p, "/b.secret")
	}
	if !hasA || hasB {
		t.Errorf("rewritten snapshot: a.txt present %v, b.secret present %v", hasA, hasB)
	}
	resticCheck(t, loc)
}

func TestRewriteMetadataAndErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a.txt": []byte("a\n")})
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Host: "old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rewrite(ctx, engine.RewriteOptions{}); err == nil {
		t.Error("a rewrite with nothing to do did not fail")
	}
	if _, err := r.Rewrite(ctx, engine.RewriteOptions{Snapshots: engine.SnapshotSelection{Names: []string{"deadbeef"}},
		Metadata: &rewriter.Metadata{Hostname: "new"}}); !errors.Is(err, engine.ErrNoSnapshot) {
		t.Errorf("unknown snapshot: %v, want ErrNoSnapshot", err)
	}
	stop := errors.New("stop here")
	_, err := r.Rewrite(ctx, engine.RewriteOptions{Metadata: &rewriter.Metadata{Hostname: "new"},
		Events: engine.ReplaceEvents{Snapshot: func(*model.Snapshot) error { return stop }}})
	var se *engine.SnapshotError
	if !errors.As(err, &se) || !errors.Is(err, stop) {
		t.Errorf("an event's error: %v, want a *SnapshotError wrapping it", err)
	}
	res, err := r.Rewrite(ctx, engine.RewriteOptions{Metadata: &rewriter.Metadata{Hostname: "new"}})
	if err != nil || len(res.Changed) != 1 {
		t.Fatalf("rewrite host: %+v, %v", res, err)
	}
	snaps, _ := r.Snapshots(ctx, repo.SnapshotFilter{Hosts: []string{"new"}}, nil)
	if len(snaps) != 1 || !snaps[0].HasTags([]string{"rewrite"}) {
		t.Errorf("snapshots of host new: %v, want one tagged rewrite", snaps)
	}
}

func TestRepairIndexRestoresPackList(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	_, _, _ = backupTwice(t, r, loc)
	packs := repoFiles(t, loc, "data")
	for _, p := range repoFiles(t, loc, "index") {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	// a repository opened now has no index: its packs are all unknown
	r2, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	var added []model.ID
	err = r2.RepairIndex(ctx, engine.RepairIndexOptions{Events: repairindex.Events{
		PackAdded: func(id model.ID) { added = append(added, id) },
	}})
	if err != nil {
		t.Fatalf("repair index: %v", err)
	}
	if len(added) != len(packs) {
		t.Errorf("repair index added %d packs, the repository has %d", len(added), len(packs))
	}
	if len(repoFiles(t, loc, "index")) == 0 {
		t.Fatal("repair index wrote no index file")
	}
	cr, err := r2.Check(ctx, engine.CheckOptions{ReadData: true})
	if err != nil || !cr.OK() {
		t.Errorf("check after repair index: %+v, %v", cr, err)
	}
	resticCheck(t, loc)
}

func TestRepairSnapshotsDropsMissingContent(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	snap, src, bPack := backupTwice(t, r, loc)
	if err := os.Remove(bPack); err != nil {
		t.Fatal(err)
	}
	if err := r.RepairIndex(ctx, engine.RepairIndexOptions{}); err != nil {
		t.Fatalf("repair index: %v", err)
	}
	var missing []string
	res, err := r.RepairSnapshots(ctx, engine.RepairSnapshotsOptions{
		Snapshots: engine.SnapshotSelection{Names: []string{snap.ID.String()}},
		Forget:    true,
		Repair:    rewriter.RepairEvents{MissingContent: func(p string) { missing = append(missing, p) }},
	})
	if err != nil || len(res.Changed) != 1 {
		t.Fatalf("repair snapshots: %+v, %v", res, err)
	}
	if len(missing) != 1 || !strings.HasSuffix(missing[0], "/sub/filea") {
		t.Errorf("files with missing content: %q, want .../sub/filea", missing)
	}
	snaps, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots after repair --forget, want 2", len(snaps))
	}
	for _, sn := range snaps {
		if sn.ID == snap.ID {
			t.Error("the damaged snapshot is still there")
		}
	}
	resticCheck(t, loc)
	// the intact file is still restorable from the repaired snapshot
	latest, err := r.FindSnapshot(ctx, "latest", repo.SnapshotFilter{})
	if err != nil || latest.Original == nil || *latest.Original != snap.ID {
		t.Fatalf("latest snapshot %v (%v) is not the repaired one", latest, err)
	}
	dst := t.TempDir()
	if _, err := r.Restore(ctx, latest.ID.String(), dst, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	// the restored path mirrors the source's absolute path
	got, err := os.ReadFile(filepath.Join(dst, src, "keep", "a.bin"))
	if err != nil {
		t.Fatalf("a.bin not restored: %v", err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte("a"), 64<<10)) {
		t.Error("a.bin restored with other content")
	}
}

func TestRepairPacksSalvagesDamagedPack(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	_, _, bPack := backupTwice(t, r, loc)
	buf, err := os.ReadFile(bPack)
	if err != nil {
		t.Fatal(err)
	}
	buf[100] ^= 0xff // damage the first blob's ciphertext
	if err := os.WriteFile(bPack, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := model.ParseID(filepath.Base(bPack))
	if err != nil {
		t.Fatal(err)
	}
	var copied []byte
	err = r.RepairPacks(ctx, []model.ID{id, id}, engine.RepairPacksOptions{
		SaveCopy: func(p model.ID, data []byte) error {
			if p != id || copied != nil {
				t.Errorf("SaveCopy(%s) called again or for another pack", p.Str())
			}
			copied = data
			return nil
		},
	})
	if err != nil {
		t.Fatalf("repair packs: %v", err)
	}
	if !bytes.Equal(copied, buf) {
		t.Error("SaveCopy did not get the pack's bytes as stored")
	}
	if _, err := os.Stat(bPack); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the damaged pack is still there: %v", err)
	}
	if _, err := r.RepairSnapshots(ctx, engine.RepairSnapshotsOptions{Forget: true}); err != nil {
		t.Fatalf("repair snapshots: %v", err)
	}
	resticCheck(t, loc)

	err = r.RepairPacks(ctx, []model.ID{id}, engine.RepairPacksOptions{SaveCopy: func(model.ID, []byte) error { return nil }})
	var dl *engine.PackDownloadError
	if !errors.As(err, &dl) || dl.Pack != id {
		t.Errorf("repairing a pack that is gone: %v, want a *PackDownloadError", err)
	}
}

func TestRecoverFindsForgottenSnapshot(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a.txt": []byte("recover me\n")})
	res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range repoFiles(t, loc, "snapshots") {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	var found model.IDs
	rec, err := r.Recover(ctx, engine.RecoverOptions{
		Snapshot: recovery.Snapshot{Hostname: "rescuer"},
		Found:    func(roots model.IDs) { found = roots },
	})
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if len(rec.Roots) != 1 || *res.Snapshot.Tree != rec.Roots[0] || len(found) != 1 {
		t.Fatalf("roots %v (told %v), want the lost snapshot's tree %s", rec.Roots, found, res.Snapshot.Tree.Str())
	}
	if rec.Snapshot == nil || !rec.Snapshot.HasTags([]string{"recovered"}) || rec.Snapshot.Hostname != "rescuer" {
		t.Fatalf("recovered snapshot: %+v", rec.Snapshot)
	}
	var hasA bool
	for p := range listPaths(t, r, rec.Snapshot.ID.String()) {
		hasA = hasA || strings.HasSuffix(p, "/a.txt")
	}
	if !hasA {
		t.Error("the recovered snapshot lacks a.txt")
	}
	resticCheck(t, loc)

	// nothing is lost any more: a second run finds no root
	again, err := r.Recover(ctx, engine.RecoverOptions{})
	if err != nil || len(again.Roots) != 0 || again.Snapshot != nil {
		t.Errorf("second recover: %+v, %v", again, err)
	}
}

func TestMigrateUpgradesV1(t *testing.T) {
	ctx := context.Background()
	loc := filepath.Join(t.TempDir(), "repo")
	r, err := engine.Init(ctx, loc, engine.InitOptions{
		Options: engine.Options{Password: password},
		Create:  repo.CreateOptions{KDFParams: &cheapKDF, Version: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string][]byte{"a.txt": []byte("v1\n")})
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := r.Migrations(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "upgrade_repo_v2" {
		t.Fatalf("migrations of a v1 repository: %v, %v", list, err)
	}
	var events []string
	checked := false
	err = r.Migrate(ctx, []string{"no_such_migration", "upgrade_repo_v2"}, engine.MigrateOptions{
		CheckDone: func(res engine.CheckResult, err error) error {
			checked = true
			if err != nil || !res.OK() {
				t.Errorf("check before the migration: %+v, %v", res, err)
			}
			return err
		},
		Events: engine.MigrateEvents{
			Unknown:  func(n string) { events = append(events, "unknown "+n) },
			Checking: func(n string) { events = append(events, "checking "+n) },
			Applying: func(n string) { events = append(events, "applying "+n) },
			Applied:  func(n string) { events = append(events, "applied "+n) },
		},
	})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	want := "unknown no_such_migration|checking upgrade_repo_v2|applying upgrade_repo_v2|applied upgrade_repo_v2"
	if got := strings.Join(events, "|"); got != want || !checked {
		t.Errorf("events %q (checked %v), want %q", got, checked, want)
	}
	r2, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if v := r2.Config().Version; v != 2 {
		t.Errorf("version after the migration: %d, want 2", v)
	}
	if list, err := r2.Migrations(ctx); err != nil || len(list) != 0 {
		t.Errorf("migrations of the upgraded repository: %v, %v", list, err)
	}
	var notApplicable []string
	err = r2.Migrate(ctx, []string{"upgrade_repo_v2"}, engine.MigrateOptions{Events: engine.MigrateEvents{
		NotApplicable: func(n, _ string) { notApplicable = append(notApplicable, n) },
	}})
	if err != nil || len(notApplicable) != 1 {
		t.Errorf("migrating again: %v, not applicable %v", err, notApplicable)
	}
	resticCheck(t, loc)
}

func TestCheckCancelledLeavesNoLock(t *testing.T) {
	r, loc := initRepo(t)
	_, _, _ = backupTwice(t, r, loc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var phases []engine.CheckPhase
	_, err := r.Check(ctx, engine.CheckOptions{
		ReadData: true,
		Phase: func(p engine.CheckPhase) {
			phases = append(phases, p)
			if p == engine.CheckSnapshots {
				cancel() // midway: index and packs done, trees and data not
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled check: %v, want context.Canceled", err)
	}
	if len(phases) != 3 {
		t.Errorf("phases %v: the check went on after the cancellation", phases)
	}
	if locks := repoFiles(t, loc, "locks"); len(locks) != 0 {
		t.Errorf("lock files left behind: %v", locks)
	}
	resticCheck(t, loc)
}

func TestCheckNoLockAndSelection(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	snap, _, _ := backupTwice(t, r, loc)
	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, release, err := other.Lock(ctx, engine.ExclusiveLock)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := r.Check(ctx, engine.CheckOptions{}); !engine.IsLocked(err) {
		t.Errorf("check of a locked repository: %v, want a *LockedError", err)
	}
	var done, total int
	res, err := r.Check(ctx, engine.CheckOptions{
		NoLock:    true,
		Snapshots: &engine.SnapshotSelection{Names: []string{snap.ID.Str()}},
		Progress: func(p engine.CheckPhase, d, t int) {
			if p == engine.CheckSnapshots {
				done, total = d, t
			}
		},
	})
	if err != nil || !res.OK() {
		t.Fatalf("check --no-lock: %+v, %v", res, err)
	}
	if done != 1 || total != 1 {
		t.Errorf("snapshot progress %d/%d, want 1/1 (one snapshot selected)", done, total)
	}
}
