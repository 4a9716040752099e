package checker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// StructureOptions select what Structure checks.
type StructureOptions struct {
	// Filtered limits the check to the snapshot root trees in Trees (a
	// selection of snapshots); ReadPacks then reads only the packs holding
	// blobs these trees reference. Without it, every snapshot is checked.
	Filtered bool
	Trees    []model.ID
	// TrackUnused records every referenced blob, for UnusedBlobs.
	TrackUnused bool
	// Progress, when set, is called with the number of snapshots whose
	// trees are fully checked and the number of snapshots.
	Progress func(done, total int)
}

// Structure checks that every tree reachable from the snapshots loads and
// decodes and that every blob they reference is in the index. Snapshot
// files that cannot be loaded are reported as *SnapshotError, tree
// problems as one *TreeError per tree. Trees are loaded in parallel; each
// tree is checked once however many snapshots share it.
func (c *Checker) Structure(ctx context.Context, opts StructureOptions, report Report) error {
	c.mu.Lock()
	c.filtered = opts.Filtered
	c.tracking = opts.Filtered || opts.TrackUnused
	c.mu.Unlock()

	roots := opts.Trees
	if !opts.Filtered {
		snaps, err := c.r.Snapshots(ctx, func(id model.ID, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			report(&SnapshotError{SnapshotID: id, Err: err})
			return nil
		})
		if err != nil {
			return err
		}
		roots = make([]model.ID, 0, len(snaps))
		for _, sn := range snaps {
			roots = append(roots, *sn.Tree)
		}
	}
	return c.walkTrees(ctx, roots, opts.Progress, report)
}

type treeJob struct {
	id   model.ID
	root int // index of the snapshot root the tree was reached from
}

type treeResult struct {
	treeJob
	subtrees []model.ID
	errs     []error
}

// walkTrees loads the trees below roots depth first with parallel workers.
// The coordinating loop (this goroutine) owns the set of seen trees, the
// per-root count of outstanding trees, progress and reporting.
func (c *Checker) walkTrees(ctx context.Context, roots []model.ID, progress func(done, total int), report Report) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan treeJob)
	results := make(chan treeResult)
	workers := runtime.GOMAXPROCS(0) + int(c.r.Backend().Properties().Connections) + 1
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				subtrees, errs := c.checkTreeBlob(ctx, j.id)
				select {
				case results <- treeResult{treeJob: j, subtrees: subtrees, errs: errs}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer func() {
		close(jobs)
		cancel()
		wg.Wait()
	}()

	outstanding := make([]int, len(roots))
	backlog := make([]treeJob, 0, len(roots))
	for i := len(roots) - 1; i >= 0; i-- {
		backlog = append(backlog, treeJob{id: roots[i], root: i})
		outstanding[i] = 1
	}
	done := 0
	if progress != nil {
		progress(0, len(roots))
	}
	finished := func(root int) {
		outstanding[root]--
		if outstanding[root] == 0 {
			done++
			if progress != nil {
				progress(done, len(roots))
			}
		}
	}

	inFlight := 0
	var next treeJob
	haveNext := false
	for {
		for !haveNext && len(backlog) > 0 {
			next = backlog[len(backlog)-1]
			backlog = backlog[:len(backlog)-1]
			if c.seenTrees.Has(next.id) {
				finished(next.root)
				continue
			}
			c.mu.Lock()
			c.seenTrees.Insert(next.id)
			c.mu.Unlock()
			haveNext = true
		}
		if !haveNext && inFlight == 0 {
			return ctx.Err()
		}
		var send chan treeJob
		if haveNext {
			send = jobs
		}
		select {
		case send <- next:
			inFlight++
			haveNext = false
		case res := <-results:
			inFlight--
			if len(res.errs) > 0 {
				report(&TreeError{TreeID: res.id, Errors: res.errs})
			}
			// pushed in reverse so the first subtree is checked first
			for i := len(res.subtrees) - 1; i >= 0; i-- {
				backlog = append(backlog, treeJob{id: res.subtrees[i], root: res.root})
				outstanding[res.root]++
			}
			finished(res.root)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checkTreeBlob loads and decodes one tree and checks its nodes. It returns
// the subtrees to visit next and the problems found.
func (c *Checker) checkTreeBlob(ctx context.Context, id model.ID) ([]model.ID, []error) {
	if !c.idx.Has(model.BlobHandle{ID: id, Type: model.TreeBlob}) {
		return nil, []error{&MissingTreeError{TreeID: id}}
	}
	tree, err := c.r.LoadTree(ctx, id)
	var decodeErr *model.TreeDecodeError
	if errors.As(err, &decodeErr) {
		return nil, []error{&NodeError{TreeID: id, Err: fmt.Errorf("failed to decode tree %v: %w", id, decodeErr)}}
	}
	var loadErr *repo.TreeLoadError
	if errors.As(err, &loadErr) {
		return nil, []error{loadErr.Err} // "error for tree <id>:" is said already
	}
	if err != nil {
		return nil, []error{err}
	}
	return c.checkNodes(id, tree)
}

func (c *Checker) checkNodes(id model.ID, tree *model.Tree) (subtrees []model.ID, errs []error) {
	fail := func(format string, args ...any) {
		errs = append(errs, &NodeError{TreeID: id, Err: fmt.Errorf(format, args...)})
	}
	for _, n := range tree.Nodes {
		switch n.Type {
		case model.NodeTypeFile:
			if n.Content == nil {
				fail("file %q has nil blob list", n.Name)
			}
			for i, blob := range n.Content {
				if blob.IsNull() {
					fail("file %q blob %d has null ID", n.Name, i)
					continue
				}
				if !c.idx.Has(model.BlobHandle{ID: blob, Type: model.DataBlob}) {
					fail("file %q blob %v not found in index", n.Name, blob)
				}
			}
			if c.tracking {
				c.mu.Lock()
				for _, blob := range n.Content {
					if !blob.IsNull() {
						c.usedBlobs.Insert(blob)
					}
				}
				c.mu.Unlock()
			}
		case model.NodeTypeDir:
			switch {
			case n.Subtree == nil:
				fail("dir node %q has no subtree", n.Name)
				continue
			case n.Subtree.IsNull():
				fail("dir node %q subtree id is null", n.Name)
				continue
			}
			subtrees = append(subtrees, *n.Subtree)
		case model.NodeTypeSymlink, model.NodeTypeSocket, model.NodeTypeCharDev, model.NodeTypeDev, model.NodeTypeFifo:
			// nothing to check
		default:
			fail("node %q with invalid type %q", n.Name, n.Type)
		}
		if n.Name == "" {
			errs = append(errs, &NodeError{TreeID: id, Err: errors.New("node with empty name")})
		}
	}
	return subtrees, errs
}
