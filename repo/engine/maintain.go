package engine

import (
	"context"
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
	// Problem receives each problem as it is found: the checker package's
	// typed errors (*checker.PackError, *checker.TreeError, …). Hints
	// (checker.IsHint) do not mean damage.
	Problem func(problem error)
}

// CheckResult counts what Check found.
type CheckResult struct {
	// Errors are problems that mean damage; Hints are not.
	Errors, Hints int
}

// OK reports whether the repository has no damage.
func (c CheckResult) OK() bool { return c.Errors == 0 }

// Check verifies the repository as restic's check does, under an
// exclusive lock. A damaged repository is not an error of Check: the
// result counts the problems (and CheckOptions.Problem names them).
func (e *Repository) Check(ctx context.Context, opts CheckOptions) (CheckResult, error) {
	var res CheckResult
	var mu sync.Mutex
	report := func(p error) {
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
	err := e.withLock(ctx, ExclusiveLock, func(ctx context.Context) error {
		c := checker.New(e.r)
		if err := c.LoadIndex(ctx, report); err != nil {
			return fmt.Errorf("check index: %w", err)
		}
		if err := c.Packs(ctx, report); err != nil {
			return fmt.Errorf("check packs: %w", err)
		}
		if err := c.Structure(ctx, checker.StructureOptions{}, report); err != nil {
			return fmt.Errorf("check snapshots: %w", err)
		}
		if opts.ReadData {
			if err := c.ReadPacks(ctx, nil, nil, report); err != nil {
				return fmt.Errorf("read packs: %w", err)
			}
		}
		return nil
	})
	return res, err
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
