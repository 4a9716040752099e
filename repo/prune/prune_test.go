package prune_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/backend/mem"
	"github.com/arca-backup/arca/crypto"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
)

// engineRepo makes a version 2 repository in memory with one snapshot of
// a file of blobs a and b, plus blob c that nothing references.
func engineRepo(t *testing.T) (*repo.Repository, backend.Backend) {
	t.Helper()
	ctx := context.Background()
	be := mem.New()
	r, err := repo.Create(ctx, be, "pw", repo.CreateOptions{KDFParams: &crypto.Params{N: 1024, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	w, err := r.NewWriter(ctx, repo.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var content model.IDs
	for _, s := range []string{"blob a", "blob b", "blob c"} {
		id, _, _, err := w.SaveBlob(ctx, model.DataBlob, []byte(s), model.ID{})
		if err != nil {
			t.Fatal(err)
		}
		content = append(content, id)
	}
	tree, err := model.EncodeTree([]*model.Node{{Name: "f", Type: model.NodeTypeFile, Mode: 0o644, Size: 12, Content: content[:2]}})
	if err != nil {
		t.Fatal(err)
	}
	root, _, _, err := w.SaveBlob(ctx, model.TreeBlob, tree, model.ID{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveSnapshot(ctx, &model.Snapshot{Time: time.Now(), Tree: &root, Paths: []string{"/src"}}); err != nil {
		t.Fatal(err)
	}
	return r, be
}

func countFiles(t *testing.T, be backend.Backend, ft backend.FileType) int {
	t.Helper()
	n := 0
	if err := be.List(context.Background(), ft, func(backend.FileInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRunLocked prunes an unused blob through the engine entry point: the
// statistics count it, the steps come in restic's order, a second run
// finds nothing, and no lock file is left.
func TestRunLocked(t *testing.T) {
	ctx := context.Background()
	r, be := engineRepo(t)
	var steps []prune.Step
	var planned prune.Stats
	var counters []string // "name done/total", progress and ends in order
	ev := &prune.Events{
		Step:    func(e prune.StepEvent) { steps = append(steps, e.Step) },
		Planned: func(st prune.Stats) { planned = st },
		Progress: func(c prune.Counter) {
			counters = append(counters, fmt.Sprintf("%s %d/%d", c.Name, c.Done, c.Total))
		},
		Counter: func(c prune.Counter) {
			counters = append(counters, fmt.Sprintf("end: %s %d/%d", c.Name, c.Done, c.Total))
		},
	}
	opts := prune.DefaultOptions()
	opts.MaxUnused = prune.UnusedBytes(0)
	st, err := prune.RunLocked(ctx, r, lock.DefaultOptions(), opts, ev)
	if err != nil {
		t.Fatal(err)
	}
	if st != planned {
		t.Errorf("Run returned %+v, Planned got %+v", st, planned)
	}
	if st.Blobs.Used != 3 || st.Blobs.Unused != 1 || st.PruneBlobs() != 1 {
		t.Errorf("blobs: %+v, want 3 used, 1 unused, 1 pruned", st.Blobs)
	}
	if st.UnusedAfter() != 0 {
		t.Errorf("unused after prune: %d", st.UnusedAfter())
	}
	// the order of the steps is the safe order of the changes
	want := []prune.Step{prune.StepLoadSnapshots, prune.StepFindUsed, prune.StepSearchPacks, prune.StepCollect}
	if !slices.Equal(steps[:4], want) || steps[len(steps)-1] != prune.StepDone {
		t.Errorf("steps %v", steps)
	}
	rebuild := slices.Index(steps, prune.StepRebuildIndex)
	remove := slices.Index(steps, prune.StepRemovePacks)
	if rebuild < 0 || remove < rebuild {
		t.Errorf("steps %v: want the index rebuilt before packs are removed", steps)
	}
	if n := countFiles(t, be, backend.LockFile); n != 0 {
		t.Errorf("%d lock files left", n)
	}
	// each counter reports its start at 0 and every step up to its end
	// before the end itself
	var wantCounters []string
	for _, c := range []struct {
		name        string
		done, total int
	}{{"snapshots", 1, 1}, {"packs processed", 2, 2}, {"packs repacked", 1, 1}} {
		for d := 0; d <= c.done; d++ {
			wantCounters = append(wantCounters, fmt.Sprintf("%s %d/%d", c.name, d, c.total))
		}
		wantCounters = append(wantCounters, fmt.Sprintf("end: %s %d/%d", c.name, c.done, c.total))
	}
	if len(counters) < len(wantCounters) || !slices.Equal(counters[:len(wantCounters)], wantCounters) {
		t.Errorf("counters:\n%q\nwant them to begin with\n%q", counters, wantCounters)
	}

	// a fresh repository handle sees the pruned state
	r2, err := repo.Open(ctx, be, "pw", repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	st2, err := prune.Run(ctx, r2, prune.Options{DryRun: true, MaxRepackBytes: prune.NoLimit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Blobs.Used != 3 || st2.Blobs.Unused != 0 || st2.PruneBlobs() != 0 || st2.Size.Unreferenced != 0 {
		t.Errorf("after prune: %+v", st2)
	}
}

// TestDryRunChangesNothing: a dry run reports what it would remove and
// leaves every file in place.
func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	r, be := engineRepo(t)
	packs, indexes := countFiles(t, be, backend.PackFile), countFiles(t, be, backend.IndexFile)
	opts := prune.DefaultOptions()
	opts.DryRun = true
	opts.MaxUnused = prune.UnusedBytes(0)
	st, err := prune.Run(ctx, r, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.PruneBlobs() != 1 {
		t.Errorf("dry run would prune %d blobs, want 1", st.PruneBlobs())
	}
	if p, i := countFiles(t, be, backend.PackFile), countFiles(t, be, backend.IndexFile); p != packs || i != indexes {
		t.Errorf("dry run changed files: packs %d -> %d, index %d -> %d", packs, p, indexes, i)
	}
}
