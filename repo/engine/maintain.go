package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Progress receives the index files (CheckIndex), snapshots
	// (CheckSnapshots) or packs (CheckReadData) done so far and the total.
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
// exclusive lock (none with CheckOptions.NoLock or Options.NoLock, as
// restic's check --no-lock). A damaged repository is not an error
// of Check: the result counts the problems (and CheckOptions.Problem
// names them). The error is one that stopped the check: a cancelled
// context, a lost lock, a failure to read packs at all.
func (e *Repository) Check(ctx context.Context, opts CheckOptions) (CheckResult, error) {
	mode := ExclusiveLock
	if opts.NoLock || e.noLock {
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
	if err := c.LoadIndex(ctx, report, progress(CheckIndex)); err != nil {
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
	// An empty policy removes nothing, unless UnsafeAllowRemoveAll.
	Policy forget.Policy
	// UnsafeAllowRemoveAll lets an empty Policy remove every snapshot
	// considered (restic's --unsafe-allow-remove-all).
	UnsafeAllowRemoveAll bool
	// GroupBy applies the policy to each group of snapshots separately
	// (nil: by host and paths, as restic; a zero GroupBy: all snapshots
	// form one group, as restic's --group-by '').
	GroupBy *repo.GroupBy
	// Filter limits which snapshots are considered at all. Snapshots,
	// when set, chooses them instead.
	Filter    repo.SnapshotFilter
	Snapshots *SnapshotSelection
	// RemoveChosen removes every snapshot chosen by Snapshots, without a
	// policy (restic's forget with snapshot IDs).
	RemoveChosen bool
	// DryRun decides but removes nothing.
	DryRun bool
	// Now is the time the policy's durations count back from (zero:
	// now).
	Now time.Time

	// Planned, when set, is told the policy's groups (none with
	// RemoveChosen) before anything is removed, also when the policy
	// fails; an error it returns stops Forget.
	Planned func(groups []forget.Group) error
	// Removing, when set, is told how many snapshot files are about to
	// be removed (not in a dry run).
	Removing func(n int)
	// Removed, when set, is told about each snapshot file removed (err
	// nil) or not; a failure then does not stop the removal of the
	// others (ForgetResult.Failed lists it).
	Removed func(id model.ID, err error)
	// Done, when set, is called once the snapshots are removed (in a dry
	// run: chosen), before Prune; an error it returns stops Forget.
	Done func(res *ForgetResult) error

	// Prune, when set, prunes under the same lock once snapshots were
	// removed (restic's forget --prune); in a dry run it is a dry-run
	// prune that counts the snapshots to remove as gone. PruneEvents
	// receives its progress.
	Prune       *prune.Options
	PruneEvents *prune.Events
}

// ForgetResult says what the policy kept and removed, group by group.
type ForgetResult struct {
	Groups []forget.Group
	// Removed are the snapshots removed (or, with DryRun, to remove),
	// sorted, without repeats.
	Removed []model.ID
	// Failed are the snapshots whose files could not be removed.
	Failed []model.ID
	// Pruned is set when a prune ran (ForgetOptions.Prune); an error
	// Forget returns then may be the prune's. PruneStats are its figures.
	Pruned     bool
	PruneStats prune.Stats
}

// Forget removes the snapshots a retention policy does not keep (or the
// ones chosen, with RemoveChosen), under an exclusive lock (none for a
// dry run of a repository opened with Options.NoLock). The data only
// they used stays until Prune (or ForgetOptions.Prune). The result is
// returned also with an error, saying how far Forget got.
func (e *Repository) Forget(ctx context.Context, opts ForgetOptions) (*ForgetResult, error) {
	res := &ForgetResult{}
	if opts.Policy.Empty() && !opts.UnsafeAllowRemoveAll && !opts.RemoveChosen {
		return res, nil
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	g := repo.GroupBy{Host: true, Paths: true}
	if opts.GroupBy != nil {
		g = *opts.GroupBy
	}
	sel := SnapshotSelection{Filter: opts.Filter}
	if opts.Snapshots != nil {
		sel = *opts.Snapshots
	}
	mode := ExclusiveLock
	if opts.DryRun && e.noLock {
		mode = NoLock
	}
	err := e.withLock(ctx, mode, func(ctx context.Context) error {
		list, err := e.choose(ctx, sel)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var remove []model.ID
		var planErr error
		if opts.RemoveChosen {
			for _, sn := range list {
				remove = append(remove, sn.ID)
			}
		} else {
			res.Groups, planErr = forget.Plan(list, g, opts.Policy, opts.Now)
			remove = forget.RemovedIDs(res.Groups)
		}
		if opts.Planned != nil {
			if err := opts.Planned(res.Groups); err != nil {
				return err
			}
		}
		if planErr != nil {
			return planErr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Removed = uniqueIDs(remove)
		if !opts.DryRun && len(res.Removed) > 0 {
			if opts.Removing != nil {
				opts.Removing(len(res.Removed))
			}
			var mu sync.Mutex
			err := e.r.RemoveSnapshotFiles(ctx, res.Removed, func(id model.ID, err error) error {
				if opts.Removed == nil {
					if err != nil {
						return fmt.Errorf("remove snapshot %s: %w", id.Str(), err)
					}
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res.Failed = append(res.Failed, id)
				}
				opts.Removed(id, err)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if opts.Done != nil {
			if err := opts.Done(res); err != nil {
				return err
			}
		}
		if opts.Prune == nil || len(res.Removed) == 0 {
			return nil
		}
		popts := *opts.Prune
		popts.DryRun = popts.DryRun || opts.DryRun
		if opts.DryRun {
			// the snapshots are still there: their data must not count
			popts.IgnoreSnapshots = model.IDSet{}
			for _, id := range res.Removed {
				popts.IgnoreSnapshots.Insert(id)
			}
		}
		res.Pruned = true
		res.PruneStats, err = e.prune(ctx, popts, opts.PruneEvents)
		return err
	})
	return res, err
}

// uniqueIDs returns ids sorted, without repeats.
func uniqueIDs(ids []model.ID) []model.ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b model.ID) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// Prune removes the data no snapshot uses any more, repacking partly used
// packs within opts' limits (start from prune.DefaultOptions()), under an
// exclusive lock. A dry run (opts.DryRun) only reads, so it takes no lock
// when the repository was opened with Options.NoLock, as restic's prune
// --dry-run --no-lock. ev, when not nil, receives progress.
func (e *Repository) Prune(ctx context.Context, opts prune.Options, ev *prune.Events) (prune.Stats, error) {
	mode := ExclusiveLock
	if opts.DryRun && e.noLock {
		mode = NoLock
	}
	var stats prune.Stats
	err := e.withLock(ctx, mode, func(ctx context.Context) error {
		var err error
		stats, err = e.prune(ctx, opts, ev)
		return err
	})
	return stats, err
}

// prune runs Prune under a lock the caller holds.
func (e *Repository) prune(ctx context.Context, opts prune.Options, ev *prune.Events) (prune.Stats, error) {
	if ev == nil {
		ev = &prune.Events{}
	}
	stats, err := prune.Run(ctx, e.r, opts, ev)
	if !opts.DryRun {
		// packs and index files were replaced: read the index anew
		e.r.DropIndex()
	}
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
