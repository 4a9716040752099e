package engine

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
)

// Reader is a read-only view of the repository under one shared lock, for
// a program that does several reads that belong together (find a
// snapshot, print it, then list or restore it) without taking the lock
// again for each. Repository.Read hands one to a function; it is valid
// only during that call, and its methods take the context Read passed
// on (it is cancelled when the lock is lost).
type Reader struct {
	e *Repository
}

// Read runs fn with a Reader under a shared lock (none with
// Options.NoLock) and returns fn's error. An error caused by losing the
// lock is a *LockLostError.
func (e *Repository) Read(ctx context.Context, fn func(ctx context.Context, rd *Reader) error) error {
	return e.withLock(ctx, e.readLock(), func(ctx context.Context) error {
		return fn(ctx, &Reader{e: e})
	})
}

// Snapshots returns all snapshots of the repository, in the order their
// files are listed. Snapshot files that cannot be read are skipped;
// onError, when not nil, is told about each.
func (rd *Reader) Snapshots(ctx context.Context, onError func(id model.ID, err error)) ([]*model.Snapshot, error) {
	return rd.e.r.Snapshots(ctx, func(id model.ID, err error) error {
		if onError != nil {
			onError(id, err)
		}
		return nil
	})
}

// LoadSnapshot loads the snapshot with the full ID id.
func (rd *Reader) LoadSnapshot(ctx context.Context, id model.ID) (*model.Snapshot, error) {
	return rd.e.r.LoadSnapshot(ctx, id)
}

// FindSnapshot resolves a snapshot name among all: "latest" (the newest
// snapshot passing filter), an ID or a unique ID prefix, each optionally
// followed by ":subfolder", which the Selection returns.
func (rd *Reader) FindSnapshot(ctx context.Context, all []*model.Snapshot, name string, filter repo.SnapshotFilter) (repo.Selection, error) {
	return repo.FindSnapshot(ctx, rd.e.r, all, name, filter)
}

// FindFileID returns the ID of the one file of type t (snapshot, key,
// pack, …) whose name starts with prefix. The errors read as restic's:
// `no matching ID found for prefix "…"` and `multiple IDs with prefix
// "…" found`.
func (rd *Reader) FindFileID(ctx context.Context, t backend.FileType, prefix string) (model.ID, error) {
	var match model.ID
	found := 0
	err := rd.e.r.List(ctx, t, func(id model.ID, _ int64) error {
		if strings.HasPrefix(id.String(), prefix) {
			match = id
			found++
		}
		return nil
	})
	switch {
	case err != nil:
		return model.ID{}, err
	case found == 0:
		return model.ID{}, fmt.Errorf("no matching ID found for prefix %q", prefix)
	case found > 1:
		return model.ID{}, fmt.Errorf("multiple IDs with prefix %q found", prefix)
	}
	return match, nil
}

// Subtree returns the ID of the directory tree at the slash-separated
// path sub ("home/me"; "" or "/" for root itself) below the tree root.
// The errors name the part of the path that failed: "path home/me: not
// found", "path home/me: not a directory".
func (rd *Reader) Subtree(ctx context.Context, root model.ID, sub string) (model.ID, error) {
	if err := rd.e.LoadIndex(ctx); err != nil {
		return model.ID{}, err
	}
	id := root
	walked := ""
	for _, name := range strings.Split(path.Clean(sub), "/") {
		if name == "" || name == "." {
			continue
		}
		if walked == "" {
			walked = name
		} else {
			walked += "/" + name
		}
		t, err := rd.e.r.LoadTree(ctx, id)
		if err != nil {
			return model.ID{}, fmt.Errorf("path %s: %w", walked, err)
		}
		n := t.Find(name)
		if n == nil {
			return model.ID{}, fmt.Errorf("path %s: not found", walked)
		}
		if n.Type != model.NodeTypeDir || n.Subtree == nil {
			return model.ID{}, fmt.Errorf("path %s: not a directory", walked)
		}
		id = *n.Subtree
	}
	return id, nil
}

// Walk visits the tree root and everything below it, depth first in name
// order (see walker.Visitor: Node is called first for the root itself
// with a nil node, returning walker.ErrSkipNode skips a directory,
// TreeError decides about trees that cannot be loaded, LeaveDir follows a
// directory's contents).
func (rd *Reader) Walk(ctx context.Context, root model.ID, v walker.Visitor) error {
	if err := rd.e.LoadIndex(ctx); err != nil {
		return err
	}
	trees := walker.NewTreeLoader(rd.e.r, walker.LoaderOptions{CacheBytes: oneWalkCacheBytes})
	return walker.New(rd.e.r, walker.Options{Loader: trees}).Walk(ctx, root, v)
}

// oneWalkCacheBytes is the tree cache of one walk (Reader.Walk, as in ls).
// A walk loads each tree once, but for identical directories, so a cache
// of walker.DefaultCacheBytes, which commands that walk several snapshots
// use, only held the last 32 MiB of trees the walk had passed: ls of the
// latest /usr snapshot peaked at 106 MiB with it (restic: 86 MiB).
const oneWalkCacheBytes = 4 << 20
