package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/forget"
	"github.com/arca-backup/arca/repo/prune"
)

func TestForgetPruneCheck(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	day := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var last map[string][]byte
	for i := range 3 {
		// each run replaces the content entirely
		os.RemoveAll(src)
		last = randomFiles(int64(10+i), 2, 300<<10)
		writeTree(t, src, last)
		if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Time: day.AddDate(0, 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	before := dataPacks(t, loc)

	dry, err := r.Forget(ctx, engine.ForgetOptions{Policy: forget.Policy{Last: 1}, DryRun: true})
	if err != nil || len(dry.Removed) != 2 {
		t.Fatalf("forget --dry-run: %v, %v", dry, err)
	}
	if snaps, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil); len(snaps) != 3 {
		t.Fatalf("a dry run removed snapshots: %d left", len(snaps))
	}
	res, err := r.Forget(ctx, engine.ForgetOptions{Policy: forget.Policy{Last: 1}})
	if err != nil || len(res.Removed) != 2 || len(res.Groups) != 1 || len(res.Groups[0].Keep) != 1 {
		t.Fatalf("forget: %+v, %v", res, err)
	}
	snaps, err := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if err != nil || len(snaps) != 1 || !snaps[0].Time.Equal(day.AddDate(0, 0, 2)) {
		t.Fatalf("snapshots after forget: %v, %v", snaps, err)
	}

	var planned prune.Stats
	stats, err := r.Prune(ctx, prune.DefaultOptions(), &prune.Events{Planned: func(s prune.Stats) { planned = s }})
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	if stats.PruneBlobs() == 0 || planned.PruneBlobs() != stats.PruneBlobs() {
		t.Errorf("prune removed %d blobs (planned %d)", stats.PruneBlobs(), planned.PruneBlobs())
	}
	if after := dataPacks(t, loc); after >= before {
		t.Errorf("packs: %d before prune, %d after", before, after)
	}

	// the same Repository goes on working after prune replaced the index
	dst := t.TempDir()
	if _, err := r.Restore(ctx, "latest", dst, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, filepath.Join(dst, src), last)
	writeTree(t, src, randomFiles(20, 1, 200<<10))
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	var problems []error
	cr, err := r.Check(ctx, engine.CheckOptions{ReadData: true, Problem: func(p error) { problems = append(problems, p) }})
	if err != nil || !cr.OK() {
		t.Fatalf("check: %+v %v %v", cr, problems, err)
	}
	resticCheck(t, loc)
}

func TestCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	src := t.TempDir()
	writeTree(t, src, randomFiles(5, 1, 100<<10))
	if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	if cr, err := r.Check(ctx, engine.CheckOptions{ReadData: true}); err != nil || !cr.OK() {
		t.Fatalf("check of a sound repository: %+v, %v", cr, err)
	}
	corruptPacks(t, loc)
	var mu sync.Mutex
	var problems []error
	cr, err := r.Check(ctx, engine.CheckOptions{ReadData: true, Problem: func(p error) {
		mu.Lock()
		problems = append(problems, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cr.OK() || cr.Errors != len(problems)-cr.Hints {
		t.Fatalf("check of damaged packs: %+v, problems %v", cr, problems)
	}
}

func TestLocksAndUnlock(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, release, err := other.Lock(ctx, engine.SharedLock)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	locks, err := r.Locks(ctx)
	if err != nil || len(locks) != 1 || locks[0].Lock.Exclusive {
		t.Fatalf("locks: %+v, %v", locks, err)
	}
	// the lock is live: a plain unlock keeps it, --remove-all removes it
	if removed, err := r.Unlock(ctx, false); err != nil || len(removed) != 0 {
		t.Fatalf("unlock removed %d live locks: %v", len(removed), err)
	}
	if removed, err := r.Unlock(ctx, true); err != nil || len(removed) != 1 {
		t.Fatalf("unlock --remove-all: %d, %v", len(removed), err)
	}
	if locks, _ := r.Locks(ctx); len(locks) != 0 {
		t.Fatalf("locks after unlock --remove-all: %+v", locks)
	}
	// an exclusive operation of one Repository waits for its shared ones
	// instead of failing on their lock
	src := t.TempDir()
	writeTree(t, src, randomFiles(6, 2, 200<<10))
	var wg sync.WaitGroup
	wg.Add(2)
	var berr, ferr error
	go func() {
		defer wg.Done()
		_, berr = r.Backup(ctx, []string{src}, engine.BackupOptions{})
	}()
	go func() {
		defer wg.Done()
		_, ferr = r.Forget(ctx, engine.ForgetOptions{Policy: forget.Policy{Last: 5}})
	}()
	wg.Wait()
	if berr != nil || ferr != nil {
		t.Fatalf("backup and forget at once: %v / %v", berr, ferr)
	}
}

// corruptPacks flips a byte in the middle of every pack file.
func corruptPacks(t *testing.T, loc string) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(loc, "data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		buf, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		buf[len(buf)/2] ^= 0xff
		os.Chmod(p, 0o644)
		return os.WriteFile(p, buf, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
