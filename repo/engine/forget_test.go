package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/engine"
	"github.com/arca-backup/arca/repo/forget"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
	"github.com/arca-backup/arca/repo/rewriter"
	"github.com/arca-backup/arca/repo/tags"
)

// threeSnapshots backs up three different contents of one directory on
// three days and returns the snapshots, oldest first.
func threeSnapshots(t *testing.T, r *engine.Repository) []*model.Snapshot {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	day := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var out []*model.Snapshot
	for i := range 3 {
		os.RemoveAll(src)
		writeTree(t, src, randomFiles(int64(40+i), 2, 200<<10))
		res, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Time: day.AddDate(0, 0, i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Snapshot)
	}
	return out
}

func TestForgetChosenThenPruneUnderOneLock(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	snaps := threeSnapshots(t, r)
	before := dataPacks(t, loc)

	var order []string
	removed := map[model.ID]bool{}
	res, err := r.Forget(ctx, engine.ForgetOptions{
		Snapshots:    &engine.SnapshotSelection{Names: []string{snaps[0].ID.Str(), snaps[1].ID.String(), snaps[0].ID.Str()}},
		RemoveChosen: true,
		Planned:      func([]forget.Group) error { order = append(order, "planned"); return nil },
		Removing:     func(n int) { order = append(order, fmt.Sprintf("removing %d", n)) },
		Removed: func(id model.ID, err error) {
			if err != nil {
				t.Errorf("remove %s: %v", id.Str(), err)
			}
			removed[id] = true
		},
		Done: func(res *engine.ForgetResult) error {
			order = append(order, "done")
			// the lock is held: no other program can take one now
			other, err := engine.Open(ctx, loc, engine.Options{Password: password})
			if err != nil {
				return err
			}
			defer other.Close()
			if _, release, err := other.Lock(ctx, engine.SharedLock); !engine.IsLocked(err) {
				if err == nil {
					release()
				}
				t.Errorf("lock between forget and prune: %v, want a *LockedError", err)
			}
			return nil
		},
		Prune:       pruneAll(),
		PruneEvents: &prune.Events{Planned: func(prune.Stats) { order = append(order, "prune") }},
	})
	if err != nil {
		t.Fatalf("forget --prune: %v", err)
	}
	if len(res.Removed) != 2 || !removed[snaps[0].ID] || !removed[snaps[1].ID] || !res.Pruned {
		t.Fatalf("forget removed %v (told %v), pruned %v", res.Removed, removed, res.Pruned)
	}
	if want := "planned,removing 2,done,prune"; strings.Join(order, ",") != want {
		t.Errorf("events in order %v, want %s", order, want)
	}
	left, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if len(left) != 1 || left[0].ID != snaps[2].ID {
		t.Errorf("snapshots left: %v, want only %s", left, snaps[2].ID.Str())
	}
	if after := dataPacks(t, loc); after >= before {
		t.Errorf("packs: %d before, %d after the prune", before, after)
	}
	resticCheck(t, loc)
}

func TestForgetDryRunPruneCountsRemovedAsGone(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	threeSnapshots(t, r)
	before := dataPacks(t, loc)
	var planned prune.Stats
	res, err := r.Forget(ctx, engine.ForgetOptions{
		Policy:      forget.Policy{Last: 1},
		DryRun:      true,
		Prune:       pruneAll(),
		PruneEvents: &prune.Events{Planned: func(s prune.Stats) { planned = s }},
	})
	if err != nil || len(res.Removed) != 2 || !res.Pruned {
		t.Fatalf("forget --dry-run --prune: %+v, %v", res, err)
	}
	if planned.PruneBlobs() == 0 {
		t.Error("the dry-run prune found nothing to remove: the snapshots to forget were counted as used")
	}
	if left, _ := r.Snapshots(ctx, repo.SnapshotFilter{}, nil); len(left) != 3 {
		t.Errorf("a dry run removed snapshots: %d left", len(left))
	}
	if after := dataPacks(t, loc); after != before {
		t.Errorf("a dry run changed the packs: %d before, %d after", before, after)
	}
}

func TestPruneCancelledMidway(t *testing.T) {
	r, loc := initRepo(t)
	snaps := threeSnapshots(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := r.Forget(ctx, engine.ForgetOptions{Snapshots: &engine.SnapshotSelection{Names: []string{snaps[0].ID.String()}}, RemoveChosen: true}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Prune(ctx, *pruneAll(), &prune.Events{
		Checkpoint: func(name string) {
			if name == prune.CheckpointIndexWritten {
				cancel() // new index stored, old index and packs not yet deleted
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled prune: %v, want context.Canceled", err)
	}
	if locks := repoFiles(t, loc, "locks"); len(locks) != 0 {
		t.Errorf("lock files left behind: %v", locks)
	}
	resticCheck(t, loc)
	// the repository is usable: a new prune finishes the work
	if _, err := r.Prune(context.Background(), *pruneAll(), nil); err != nil {
		t.Fatalf("prune after the cancelled one: %v", err)
	}
	resticCheck(t, loc)
}

func TestTagSnapshotsBySelection(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	snaps := threeSnapshots(t, r)
	var changed []model.ID
	n, err := r.TagSnapshots(ctx, engine.TagOptions{
		Snapshots: engine.SnapshotSelection{Choose: func(all []*model.Snapshot) ([]*model.Snapshot, error) {
			return all[1:], nil // the two newest
		}},
		Edit:    tags.Edit{Add: []string{"keep"}},
		Changed: func(old, _ *model.Snapshot) { changed = append(changed, old.ID) },
	})
	if err != nil || n != 2 || len(changed) != 2 {
		t.Fatalf("tag: %d changed (told %v), %v", n, changed, err)
	}
	tagged, _ := r.Snapshots(ctx, repo.SnapshotFilter{Tags: [][]string{{"keep"}}}, nil)
	if len(tagged) != 2 {
		t.Fatalf("%d snapshots tagged keep, want 2", len(tagged))
	}
	for _, sn := range tagged {
		if sn.Original == nil || (*sn.Original != snaps[1].ID && *sn.Original != snaps[2].ID) {
			t.Errorf("tagged snapshot %s comes from %v", sn.ID.Str(), sn.Original)
		}
	}
	// tagging again changes nothing
	if n, err := r.TagSnapshots(ctx, engine.TagOptions{Snapshots: engine.SnapshotSelection{Filter: repo.SnapshotFilter{Tags: [][]string{{"keep"}}}},
		Edit: tags.Edit{Add: []string{"keep"}}}); err != nil || n != 0 {
		t.Errorf("tagging again: %d changed, %v", n, err)
	}
}

// pruneAll returns prune options that leave no unused data behind.
func pruneAll() *prune.Options {
	o := prune.DefaultOptions()
	o.MaxUnused = func(uint64) uint64 { return 0 }
	return &o
}

func TestStaleLocksAndUnlock(t *testing.T) {
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
	if stale, err := r.StaleLocks(ctx, false); err != nil || len(stale) != 0 {
		t.Errorf("stale locks: %v, %v; the held lock is fresh", stale, err)
	}
	all, err := r.StaleLocks(ctx, true)
	if err != nil || len(all) != 1 {
		t.Fatalf("locks --remove-all would remove: %v, %v, want the one held", all, err)
	}
	if n := len(repoFiles(t, loc, "locks")); n != 1 {
		t.Fatalf("%d lock files after a dry run, want 1", n)
	}
	removed, err := r.Unlock(ctx, true)
	if err != nil || len(removed) != 1 || removed[0].ID != all[0].ID {
		t.Fatalf("unlock --remove-all: %v, %v", removed, err)
	}
	if n := len(repoFiles(t, loc, "locks")); n != 0 {
		t.Errorf("%d lock files after unlock --remove-all", n)
	}
}

func TestReplaceKeyRecordsUserAndHost(t *testing.T) {
	ctx := context.Background()
	r, loc := initRepo(t)
	k, err := r.ReplaceKey(ctx, "new password", "someone", "somewhere")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := r.ReadKeys(ctx, nil)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys after the change: %v, %v", keys, err)
	}
	if keys[0].ID != k.ID || !keys[0].Current || keys[0].Username != "someone" || keys[0].Hostname != "somewhere" {
		t.Errorf("key %+v, want the new current key of someone@somewhere", keys[0])
	}
	if _, err := engine.Open(ctx, loc, engine.Options{Password: password}); !errors.Is(err, engine.ErrWrongPassword) {
		t.Errorf("the old password still opens: %v", err)
	}
}

// A rewrite whose lock is removed by someone else stops with a
// *LockLostError and changes no snapshot.
func TestRewriteStopsWhenItsLockIsRemoved(t *testing.T) {
	ctx := context.Background()
	_, loc := initRepo(t)
	fast := lock.Options{RefreshInterval: 200 * time.Millisecond, StaleTimeout: 2 * time.Second}
	r, err := engine.Open(ctx, loc, engine.Options{Password: password, Lock: fast})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snaps := threeSnapshots(t, r)
	other, err := engine.Open(ctx, loc, engine.Options{Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = r.Rewrite(ctx, engine.RewriteOptions{
		Metadata: &rewriter.Metadata{Hostname: "renamed"},
		Forget:   true,
		Events: engine.ReplaceEvents{Snapshot: func(*model.Snapshot) error {
			if _, err := other.Unlock(ctx, true); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Second) // several refreshes: the loss is noticed
			return nil
		}},
	})
	var lost *engine.LockLostError
	if !errors.Is(err, engine.ErrLockLost) || !errors.As(err, &lost) {
		t.Fatalf("rewrite after its lock was removed: %v, want a *LockLostError", err)
	}
	left, _ := other.Snapshots(ctx, repo.SnapshotFilter{}, nil)
	if len(left) != len(snaps) {
		t.Fatalf("%d snapshots after the stopped rewrite, want %d", len(left), len(snaps))
	}
	for _, sn := range left {
		if sn.Hostname == "renamed" {
			t.Errorf("snapshot %s was rewritten without a lock", sn.ID.Str())
		}
	}
}

func TestForgetGroupBy(t *testing.T) {
	ctx := context.Background()
	r, _ := initRepo(t)
	for _, host := range []string{"a", "b"} {
		src := filepath.Join(t.TempDir(), "src")
		writeTree(t, src, map[string][]byte{"f": []byte(host)})
		if _, err := r.Backup(ctx, []string{src}, engine.BackupOptions{Host: host}); err != nil {
			t.Fatal(err)
		}
	}
	// by host and paths: each host keeps its only snapshot
	res, err := r.Forget(ctx, engine.ForgetOptions{Policy: forget.Policy{Last: 1}, DryRun: true})
	if err != nil || len(res.Groups) != 2 || len(res.Removed) != 0 {
		t.Errorf("default grouping: %d groups, %d to remove, %v; want 2 and 0", len(res.Groups), len(res.Removed), err)
	}
	// no grouping: one group, the older snapshot goes
	res, err = r.Forget(ctx, engine.ForgetOptions{Policy: forget.Policy{Last: 1}, DryRun: true, GroupBy: &repo.GroupBy{}})
	if err != nil || len(res.Groups) != 1 || len(res.Removed) != 1 {
		t.Errorf("no grouping: %d groups, %d to remove, %v; want 1 and 1", len(res.Groups), len(res.Removed), err)
	}
}
