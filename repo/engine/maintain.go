package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/checker"
	"github.com/arca-backup/arca/repo/forget"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// ReadData reads every pack and verifies all content (slow); without
	// it only the index, the pack list and the snapshot trees are checked.
	ReadData bool
	// ReadPacks, when set, reads the packs it chooses from the candidates
	// (a subset, see checker.SelectBucket, SelectPercentage, SelectSize)
	// instead of ReadData's all.
	ReadPacks checker.PackFilter
	// Snapshots, when set, limits the tree check (and the packs read) to
	// these snapshots; nil checks all. SelectTrees, when set, replaces it:
	// it returns the snapshots' root trees (it runs under Check's lock).
	Snapshots   *SnapshotSelection
	SelectTrees func(ctx context.Context) ([]model.ID, error)
	// NoLock takes no lock (restic's check --no-lock), for storage that
	// cannot be written or a caller that holds the lock already.
	NoLock bool
	// Problem receives each problem as it is found: the checker package's
	// typed errors (*checker.PackError, *checker.TreeError, …). Hints
	// (checker.IsHint) do not mean damage. An error that ends a phase
	// early (an index or pack list that cannot be read, a selection that
	// fails) is reported here too, as a problem.
	Problem func(problem error)
	// Phase is told when each phase starts, in order.
	Phase func(CheckPhase)
	// Progress receives the snapshots (CheckSnapshots) or packs
	// (CheckReadData) done so far and the total.
	Progress func(phase CheckPhase, done, total int)
}

// CheckPhase is one step of Check.
type CheckPhase int

const (
	// CheckIndex loads the index files.
	CheckIndex CheckPhase = iota
	// CheckPacks compares the pack files with the index.
	CheckPacks
	// CheckSnapshots walks the snapshots' trees.
	CheckSnapshots
	// CheckReadData reads the packs' content (ReadData, ReadPacks).
	CheckReadData
)

// CheckResult counts what Check found.
type CheckResult struct {
	// Errors are problems that mean damage; Hints are not.
	Errors, Hints int
	// IndexDamaged reports that the index could not be loaded cleanly:
	// Check stopped after CheckIndex (RepairIndex repairs the index).
	IndexDamaged bool
}

// OK reports whether the repository has no damage.
func (c CheckResult) OK() bool { return c.Errors == 0 }

// Check verifies the repository as restic's check does, under an
// exclusive lock (none with NoLock). A damaged repository is not an error
// of Check: the result counts the problems (and CheckOptions.Problem
// names them). The error is one that stopped the check: a cancelled
// context, a lost lock, a failure to read packs at all.
func (e *Repository) Check(ctx context.Context, opts CheckOptions) (CheckResult, error) {
	mode := ExclusiveLock
	if opts.NoLock {
		mode = NoLock
	}
	var res CheckResult
	err := e.withLock(ctx, mode, func(ctx context.Context) error {
		var err error
		res, err = e.check(ctx, opts)
		return err
	})
	return res, err
}

// check runs Check's phases under a lock the caller holds.
func (e *Repository) check(ctx context.Context, opts CheckOptions) (CheckResult, error) {
	var res CheckResult
	var mu sync.Mutex
	indexDamaged := false
	report := func(p error) {
		var incomplete *checker.IncompletePackError
		mu.Lock()
		if checker.IsHint(p) {
			res.Hints++
		} else {
			res.Errors++
			if !errors.As(p, &incomplete) {
				indexDamaged = true
			}
		}
		mu.Unlock()
		if opts.Problem != nil {
			opts.Problem(p)
		}
	}
	phase := func(p CheckPhase) {
		if opts.Phase != nil {
			opts.Phase(p)
		}
	}
	progress := func(p CheckPhase) func(done, total int) {
		if opts.Progress == nil {
			return nil
		}
		return func(done, total int) { opts.Progress(p, done, total) }
	}
	c := checker.New(e.r)

	phase(CheckIndex)
	if err := c.LoadIndex(ctx, report); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		report(err)
	}
	if indexDamaged {
		res.IndexDamaged = true
		return res, nil
	}
	// the phases after the index only report: they do not stop the check
	report = func(p error) {
		mu.Lock()
		if checker.IsHint(p) {
			res.Hints++
		} else {
			res.Errors++
		}
		mu.Unlock()
		if opts.Problem != nil {
			opts.Problem(p)
		}
	}

	phase(CheckPacks)
	if err := c.Packs(ctx, report); err != nil && ctx.Err() == nil {
		report(err)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	phase(CheckSnapshots)
	sopts := checker.StructureOptions{Progress: progress(CheckSnapshots)}
	if opts.SelectTrees != nil || opts.Snapshots != nil {
		sopts.Filtered = true
		trees, err := e.checkTrees(ctx, opts)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			report(err)
		}
		sopts.Trees = trees
	}
	if err := c.Structure(ctx, sopts, report); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		report(err)
	}

	if opts.ReadData || opts.ReadPacks != nil {
		phase(CheckReadData)
		filter := opts.ReadPacks
		if filter == nil {
			filter = func(packs map[model.ID]int64) map[model.ID]int64 { return packs }
		}
		if err := c.ReadPacks(ctx, filter, progress(CheckReadData), report); err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
}

// checkTrees returns the root trees of the snapshots Check is limited to.
func (e *Repository) checkTrees(ctx context.Context, opts CheckOptions) ([]model.ID, error) {
	if opts.SelectTrees != nil {
		return opts.SelectTrees(ctx)
	}
	snaps, err := e.choose(ctx, *opts.Snapshots)
	if err != nil {
		return nil, err
	}
	trees := make([]model.ID, 0, len(snaps))
	for _, sn := range snaps {
		trees = append(trees, *sn.Tree)
	}
	return trees, nil
}

// ForgetOptions tune Forget.
type ForgetOptions struct {
	// Policy says which snapshots to keep (keep-last, keep-daily, …).
	// An empty policy removes nothing.
	Policy forget.Policy
	// GroupBy applies the policy to each group of snapshots separately
	// (zero: by host and paths, as restic).
	GroupBy repo.GroupBy
	// Filter limits which snapshots are considered at all.
	Filter repo.SnapshotFilter
	// DryRun decides but removes nothing.
	DryRun bool
	// Now is the time the policy's durations count back from (zero:
	// now).
	Now time.Time
}

// ForgetResult says what the policy kept and removed, group by group.
type ForgetResult struct {
	Groups []forget.Group
	// Removed are the snapshots removed (or, with DryRun, to remove).
	Removed []model.ID
}

// Forget removes the snapshots a retention policy does not keep, under an
// exclusive lock. The data only they used stays until Prune.
func (e *Repository) Forget(ctx context.Context, opts ForgetOptions) (*ForgetResult, error) {
	res := &ForgetResult{}
	if opts.Policy.Empty() {
		return res, nil
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	g := opts.GroupBy
	if !g.Any() {
		g = repo.GroupBy{Host: true, Paths: true}
	}
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		all, err := e.r.Snapshots(ctx, nil)
		if err != nil {
			return err
		}
		var list []*model.Snapshot
		for _, sn := range all {
			if opts.Filter.Matches(sn) {
				list = append(list, sn)
			}
		}
		if res.Groups, err = forget.Plan(list, g, opts.Policy, opts.Now); err != nil {
			return err
		}
		res.Removed = forget.RemovedIDs(res.Groups)
		if opts.DryRun || len(res.Removed) == 0 {
			return nil
		}
		return e.r.RemoveSnapshotFiles(ctx, res.Removed, func(id model.ID, err error) error {
			if err != nil {
				return fmt.Errorf("remove snapshot %s: %w", id.Str(), err)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Prune removes the data no snapshot uses any more, repacking partly used
// packs within opts' limits (start from prune.DefaultOptions()), under an
// exclusive lock. ev, when not nil, receives progress.
func (e *Repository) Prune(ctx context.Context, opts prune.Options, ev *prune.Events) (prune.Stats, error) {
	if ev == nil {
		ev = &prune.Events{}
	}
	var stats prune.Stats
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		var err error
		stats, err = prune.Run(ctx, e.r, opts, ev)
		if !opts.DryRun {
			// packs and index files were replaced: read the index anew
			e.r.DropIndex()
		}
		return err
	})
	return stats, err
}

// Locks lists the repository's lock files with what is known about each
// (holder, age, whether it is stale).
func (e *Repository) Locks(ctx context.Context) ([]lock.Info, error) {
	l, err := e.Locker()
	if err != nil {
		return nil, err
	}
	return l.Inspect(ctx)
}

// Unlock removes stale locks (all locks with all set, as restic's
// unlock --remove-all) and returns the ones removed.
func (e *Repository) Unlock(ctx context.Context, all bool) ([]lock.Info, error) {
	l, err := e.Locker()
	if err != nil {
		return nil, err
	}
	if all {
		return l.RemoveAll(ctx, false)
	}
	return l.RemoveStale(ctx, false)
}
