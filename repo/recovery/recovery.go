// Package recovery makes a snapshot of the directory trees no snapshot
// references, as restic's `recover` does: it brings a snapshot back that
// was removed by accident (its trees and data stay until a prune).
//
// A root is a tree blob in the index that neither another tree (as a
// subdirectory) nor a snapshot refers to. The index is completed first
// (restic's `repair index`), so that packs no index file lists are found
// too. The new snapshot's tree has one directory per root, named by the
// root's short ID.
package recovery

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/repairindex"
)

// Stage is a step of FindRoots, announced before it starts.
type Stage int

// The stages in their order.
const (
	StageRepairIndex   Stage = iota // "ensuring index is complete"
	StageLoadIndex                  // "load index files"
	StageLoadTrees                  // "load N trees" (N: the number of tree blobs)
	StageLoadSnapshots              // "load snapshots"
	StageDone                       // "done"
)

// Events receive what FindRoots does; any may be nil. They are not called
// concurrently.
type Events struct {
	Stage func(s Stage, n int)
	// RepairIndex receives the events of the index repair.
	RepairIndex repairindex.Events
	// TreeProgress counts the tree blobs loaded.
	TreeProgress func(done, total int)
	// TreeUnreadable: a tree blob could not be loaded; its subtrees stay
	// unknown (and may turn up as roots), as in restic.
	TreeUnreadable func(id model.ID, err error)
}

// FindRoots completes the index and returns the unreferenced root trees,
// sorted by ID. The snapshots are listed before the index repair, as in
// restic. r's index must not be loaded yet (the repaired one is loaded).
func FindRoots(ctx context.Context, r *repo.Repository, ev Events) (model.IDs, error) {
	stage := func(s Stage, n int) {
		if ev.Stage != nil {
			ev.Stage(s, n)
		}
	}
	var snapshots model.IDs
	err := r.List(ctx, backend.SnapshotFile, func(id model.ID, _ int64) error {
		snapshots = append(snapshots, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}

	stage(StageRepairIndex, 0)
	if err := repairindex.Run(ctx, r, repairindex.Options{}, ev.RepairIndex); err != nil {
		return nil, err
	}
	stage(StageLoadIndex, 0)
	if err := r.LoadIndex(ctx); err != nil {
		return nil, err
	}

	// referenced[id] tells whether another tree or a snapshot refers to
	// the tree id
	referenced := map[model.ID]bool{}
	r.Index().Each(func(pb model.PackedBlob) bool {
		if pb.Type == model.TreeBlob {
			referenced[pb.ID] = false
		}
		return true
	})
	trees := make(model.IDs, 0, len(referenced))
	for id := range referenced {
		trees = append(trees, id)
	}
	sortIDs(trees)

	stage(StageLoadTrees, len(trees))
	if err := markSubtrees(ctx, r, trees, referenced, ev); err != nil {
		return nil, err
	}

	stage(StageLoadSnapshots, 0)
	for _, id := range snapshots {
		sn, err := r.LoadSnapshot(ctx, id)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil || sn.Tree == nil {
			continue // restic does not stop at a snapshot it cannot read
		}
		referenced[*sn.Tree] = true
	}
	stage(StageDone, 0)

	var roots model.IDs
	for _, id := range trees {
		if !referenced[id] {
			roots = append(roots, id)
		}
	}
	return roots, nil
}

// markSubtrees loads every tree in parallel and marks its subdirectories'
// trees as referenced. A tree that cannot be loaded is reported and
// skipped; one that cannot be decoded ends the search.
func markSubtrees(ctx context.Context, r *repo.Repository, trees model.IDs, referenced map[model.ID]bool, ev Events) error {
	var mu sync.Mutex
	done := 0
	if ev.TreeProgress != nil {
		ev.TreeProgress(0, len(trees))
	}
	workers := runtime.GOMAXPROCS(0) + int(r.Backend().Properties().Connections)
	return repo.ForEachParallel(ctx, workers, trees, func(ctx context.Context, id model.ID) error {
		buf, err := r.LoadBlob(ctx, model.TreeBlob, id, nil)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var tree *model.Tree
		if err == nil {
			if tree, err = model.DecodeTree(buf); err != nil {
				return fmt.Errorf("tree %v: %w", id.Str(), err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if ev.TreeUnreadable != nil {
				ev.TreeUnreadable(id, err)
			}
			return nil
		}
		for _, n := range tree.Nodes {
			if n.Type == model.NodeTypeDir && n.Subtree != nil {
				referenced[*n.Subtree] = true
			}
		}
		done++
		if ev.TreeProgress != nil {
			ev.TreeProgress(done, len(trees))
		}
		return nil
	})
}

// Snapshot describes the snapshot Save writes; restic records the host
// name and the user running the command.
type Snapshot struct {
	Hostname string
	Username string
	UID, GID uint32
	Time     time.Time
}

// Save stores a tree with one directory per root, named by the root's
// short ID, and a snapshot of it with the path "/recover" and the tag
// "recovered". It returns the saved snapshot. The directories are sorted
// by name, as a tree must be (restic 0.19.1 adds them in map order and so
// fails with "nodes are not ordered or duplicate" for most runs with
// several roots); two roots with the same short ID fail as in restic.
func Save(ctx context.Context, r *repo.Repository, roots model.IDs, meta Snapshot, opts repo.WriteOptions) (*model.Snapshot, error) {
	nodes := make([]*model.Node, 0, len(roots))
	for _, id := range roots {
		subtree := id
		now := time.Now()
		nodes = append(nodes, &model.Node{
			Name:       id.Str(),
			Type:       model.NodeTypeDir,
			Mode:       0o755,
			Subtree:    &subtree,
			ModTime:    now,
			AccessTime: now,
			ChangeTime: now,
		})
	}
	slices.SortStableFunc(nodes, func(a, b *model.Node) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		return nil, fmt.Errorf("unable to save new tree to the repository: %w", err)
	}
	w, err := r.NewWriter(ctx, opts)
	if err != nil {
		return nil, err
	}
	treeID, _, _, err := w.SaveBlob(ctx, model.TreeBlob, buf, model.ID{})
	if err == nil {
		err = w.Flush(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to save new tree to the repository: %w", err)
	}

	path := "/recover"
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	sn := &model.Snapshot{
		Time:     meta.Time,
		Tree:     &treeID,
		Paths:    []string{path},
		Hostname: meta.Hostname,
		Username: meta.Username,
		UID:      meta.UID,
		GID:      meta.GID,
		Tags:     []string{"recovered"},
	}
	if _, err := r.SaveSnapshot(ctx, sn); err != nil {
		return nil, fmt.Errorf("unable to save snapshot: %w", err)
	}
	return sn, nil
}

func sortIDs(ids model.IDs) {
	slices.SortFunc(ids, func(a, b model.ID) int { return bytes.Compare(a[:], b[:]) })
}
