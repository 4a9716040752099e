package prune

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
)

// usedSet maps every blob a snapshot needs to the number of copies the
// index holds (filled in by the planner; 0 while walking).
type usedSet map[model.BlobHandle]uint8

// findUsedBlobs walks the trees of every snapshot (except the ignored
// ones) and returns the set of blobs they reference.
func findUsedBlobs(ctx context.Context, r *repo.Repository, opts *Options, ev *Events) (usedSet, error) {
	ev.step(StepLoadSnapshots, 0)
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("failed loading snapshot: %v", err)
	}
	var roots model.IDs
	for _, sn := range snaps {
		if opts.IgnoreSnapshots.Has(sn.ID) {
			continue
		}
		roots = append(roots, *sn.Tree)
	}
	ev.step(StepFindUsed, len(roots))
	bar := ev.StartCounter("snapshots", len(roots))
	defer bar.Finish()

	f := &usedFinder{
		trees: walker.NewTreeLoader(r, walker.LoaderOptions{CacheBytes: -1}),
		used:  make(usedSet),
	}
	for _, root := range roots {
		if err := f.walk(ctx, root); err != nil {
			return nil, fmt.Errorf("failed finding blobs: %v", err)
		}
		bar.Add(1)
	}
	return f.used, nil
}

// usedFinder marks the blobs below trees as used. Each tree is loaded
// once: a tree already in the set was walked (or is being walked) before.
type usedFinder struct {
	trees *walker.TreeLoader
	mu    sync.Mutex
	used  usedSet
}

// mark adds h and reports whether it was new.
func (f *usedFinder) mark(h model.BlobHandle) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.used[h]; ok {
		return false
	}
	f.used[h] = 0
	return true
}

// walk marks the tree root and everything below it, loading trees with a
// pool of workers.
func (f *usedFinder) walk(ctx context.Context, root model.ID) error {
	if !f.mark(model.BlobHandle{ID: root, Type: model.TreeBlob}) {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		queue   = model.IDs{root}
		pending = 1 // trees queued or being processed
	)
	fail := func(err error) {
		cancel(err)
		mu.Lock()
		cond.Broadcast()
		mu.Unlock()
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		cond.Broadcast()
		mu.Unlock()
	})
	defer stop()

	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) + 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(queue) == 0 && pending > 0 && ctx.Err() == nil {
					cond.Wait()
				}
				if pending == 0 || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				id := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				mu.Unlock()

				subtrees, err := f.visit(ctx, id)
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				queue = append(queue, subtrees...)
				pending += len(subtrees) - 1
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// visit loads one tree, marks its file contents and returns the subtrees
// not seen before.
func (f *usedFinder) visit(ctx context.Context, id model.ID) (model.IDs, error) {
	tree, err := f.trees.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	var subtrees model.IDs
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range tree.Nodes {
		switch n.Type {
		case model.NodeTypeFile:
			for _, b := range n.Content {
				f.used[model.BlobHandle{ID: b, Type: model.DataBlob}] = 0
			}
		case model.NodeTypeDir:
			if n.Subtree == nil {
				return nil, fmt.Errorf("tree %v: directory %q has no subtree", id.Str(), n.Name)
			}
			h := model.BlobHandle{ID: *n.Subtree, Type: model.TreeBlob}
			if _, ok := f.used[h]; !ok {
				f.used[h] = 0
				subtrees = append(subtrees, *n.Subtree)
			}
		}
	}
	return subtrees, nil
}
