// Package prune removes data no snapshot needs any more, as restic's
// prune does.
//
// A run has two halves. NewPlan walks every snapshot's trees to find the
// blobs in use, counts per pack the used, unused and duplicate blobs, and
// decides per pack: keep it, delete it (nothing in it is used), or repack
// it (copy its used blobs into new packs, then delete it), within the
// limits of the options (--max-unused, --max-repack-size, ...). Execute
// then changes the repository in an order that keeps it valid at every
// step: new packs and their index first, then the rewritten index, then
// deleting the old index files, and deleting packs last. A crash leaves
// at worst packs no index references, which the next run deletes.
//
// The caller holds the repository's exclusive lock (restic's prune takes
// one; a dry run may do without). Nothing here prints: progress flows out
// through Events.
package prune

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
)

// Run plans and executes a prune run (only plans for a dry run) and
// returns the plan's statistics. ev.Planned receives them before the
// repository is changed. This is the entry point for prune and forget
// --prune.
func Run(ctx context.Context, r *repo.Repository, opts Options, ev *Events) (Stats, error) {
	plan, err := NewPlan(ctx, r, opts, ev)
	if err != nil {
		return Stats{}, err
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	st := plan.Stats()
	if ev != nil && ev.Planned != nil {
		ev.Planned(st)
	}
	return st, plan.Execute(ctx, ev)
}

// RunLocked is Run under the repository's exclusive lock, for programs
// embedding the engine: it takes the lock, prunes with the lock's context
// (so losing the lock stops the run) and releases the lock.
func RunLocked(ctx context.Context, r *repo.Repository, lockOpts lock.Options, opts Options, ev *Events) (Stats, error) {
	held, err := r.Lock(ctx, true, lockOpts)
	if err != nil {
		return Stats{}, err
	}
	st, err := Run(held.Context(), r, opts, ev)
	if lost := held.Err(); err != nil && lost != nil {
		err = fmt.Errorf("%w (%w)", err, lost)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if rerr := held.Release(rctx); rerr != nil && err == nil && !errors.Is(rerr, lock.ErrLost) {
		err = fmt.Errorf("release lock: %w", rerr)
	}
	return st, err
}
