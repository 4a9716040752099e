// Package checker verifies a repository the way restic's check does, in
// phases the caller runs in order:
//
//  1. LoadIndex reads every index file into the repository's index and
//     reports files that cannot be read and packs the indexes disagree on;
//  2. Packs compares the pack files in the backend with the index (missing,
//     wrong size, not indexed);
//  3. Structure walks snapshots → trees → blobs, all or a selection, and
//     reports unreadable snapshots, missing or undecodable trees and blobs
//     the index does not know;
//  4. ReadPacks reads whole packs (all or a subset chosen by a PackFilter),
//     verifies each pack's hash against its name, every blob's content and
//     the header against the index.
//
// Problems go to a report callback as typed errors (problems.go) naming the
// file or object concerned; the package never prints.
package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// Report receives each problem found. It is never called concurrently.
type Report func(problem error)

// ErrIndexV1Feature is reported when the index of a version-1 repository
// lists compressed blobs.
var ErrIndexV1Feature = errors.New("index uses feature not supported by repository version 1")

// Checker checks one repository. Run its phases in order: LoadIndex,
// Packs, Structure, ReadPacks.
type Checker struct {
	r   *repo.Repository
	idx *index.Index

	// packSizes are the pack sizes the index implies (set by LoadIndex).
	packSizes map[model.ID]int64

	mu sync.Mutex
	// seenTrees are the trees visited by Structure.
	seenTrees model.IDSet
	// usedBlobs are the data blobs referenced by visited trees, recorded
	// when tracking (a filtered check, or TrackUnused).
	usedBlobs model.IDSet
	tracking  bool
	filtered  bool
}

// New returns a checker for r. It fills r's index (LoadIndex).
func New(r *repo.Repository) *Checker {
	return &Checker{r: r, idx: r.Index(), seenTrees: model.IDSet{}, usedBlobs: model.IDSet{}}
}

// LoadIndex loads every index file. Files that cannot be loaded are
// reported as *IndexError (the rest are still loaded); packs that index
// files list with different content as *IncompletePackError, identically
// in several files as *DuplicatePackHint, and packs holding both blob
// types as *MixedPackHint. The returned error is for failures that stop
// the check (listing, cancellation). progress, when not nil, counts the
// files loaded.
func (c *Checker) LoadIndex(ctx context.Context, report Report, progress repo.IndexProgress) error {
	packIndexes := map[model.ID]model.IDSet{}
	packContents := map[model.ID]model.IDSet{}
	err := c.r.ForEachIndexFile(ctx, progress, func(id model.ID, f *index.File, err error) error {
		if err != nil {
			report(&IndexError{IndexID: id, Err: err})
			return nil
		}
		f.AddTo(c.idx)
		for _, p := range f.Packs {
			addToSet(packIndexes, p.ID, id)
			addToSet(packContents, p.ID, p.ContentHash())
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	types := map[model.ID]model.BlobType{}
	const mixed = model.BlobType(255)
	sizes := map[model.ID]int64{}
	v1Violation := false
	c.idx.Each(func(pb model.PackedBlob) bool {
		if t, ok := types[pb.PackID]; !ok {
			types[pb.PackID] = pb.Type
		} else if t != pb.Type {
			types[pb.PackID] = mixed
		}
		size, ok := sizes[pb.PackID]
		if !ok {
			size = pack.HeaderOverhead
		}
		sizes[pb.PackID] = size + int64(pb.Length) + int64(entrySize(pb.Blob))
		if pb.IsCompressed() {
			v1Violation = true
		}
		return true
	})
	c.packSizes = sizes
	if v1Violation && c.r.Config().Version < 2 {
		report(ErrIndexV1Feature)
	}

	for _, id := range sortedIDs(types) {
		switch {
		case len(packContents[id]) > 1:
			report(&IncompletePackError{PackID: id, Indexes: setList(packIndexes[id])})
		case len(packIndexes[id]) > 1:
			report(&DuplicatePackHint{PackID: id, Indexes: setList(packIndexes[id])})
		}
		if types[id] == mixed {
			report(&MixedPackHint{PackID: id})
		}
	}
	return nil
}

// PackSizes returns the size of every indexed pack as the index implies it.
func (c *Checker) PackSizes() map[model.ID]int64 { return c.packSizes }

func entrySize(b model.Blob) int {
	if b.IsCompressed() {
		return pack.CompressedEntrySize
	}
	return pack.PlainEntrySize
}

func addToSet(m map[model.ID]model.IDSet, key, v model.ID) {
	s, ok := m[key]
	if !ok {
		s = model.IDSet{}
		m[key] = s
	}
	s.Insert(v)
}

func setList(s model.IDSet) model.IDs {
	out := make(model.IDs, 0, len(s))
	for id := range s {
		out = append(out, id)
	}
	sortIDs(out)
	return out
}

func sortIDs(ids model.IDs) { slices.SortFunc(ids, compareIDs) }

func compareIDs(a, b model.ID) int { return bytes.Compare(a[:], b[:]) }

func sortedIDs[V any](m map[model.ID]V) model.IDs { return slices.SortedFunc(maps.Keys(m), compareIDs) }

// Packs compares the pack files in the backend with the index: packs the
// index lists but the backend lacks, packs whose size differs from what the
// index implies (Truncated), and packs no index lists (Orphaned; not an
// error, prune removes them). Each is reported as a *PackError.
func (c *Checker) Packs(ctx context.Context, report Report) error {
	stored := map[model.ID]int64{}
	err := c.r.List(ctx, backend.PackFile, func(id model.ID, size int64) error {
		stored[id] = size
		return nil
	})
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}
	for _, id := range sortedIDs(c.packSizes) {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := c.packSizes[id]
		got, ok := stored[id]
		delete(stored, id)
		switch {
		case !ok:
			report(&PackError{PackID: id, Err: errors.New("does not exist")})
		case got != want:
			report(&PackError{PackID: id, Truncated: true, Err: fmt.Errorf("unexpected file size: got %d, expected %d", got, want)})
		}
	}
	for _, id := range sortedIDs(stored) {
		report(&PackError{PackID: id, Orphaned: true, Err: errors.New("not referenced in any index")})
	}
	return ctx.Err()
}

// UnusedBlobs returns the blobs in the index that no checked tree
// references. It needs a Structure run over all snapshots with
// StructureOptions.TrackUnused.
func (c *Checker) UnusedBlobs(ctx context.Context) ([]model.BlobHandle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tracking || c.filtered {
		return nil, errors.New("unused blobs are only known after a structure check of all snapshots with TrackUnused")
	}
	var out []model.BlobHandle
	listed := map[model.BlobHandle]bool{} // a blob stored twice is listed once
	c.idx.Each(func(pb model.PackedBlob) bool {
		used := false
		if pb.Type == model.TreeBlob {
			used = c.seenTrees.Has(pb.ID)
		} else {
			used = c.usedBlobs.Has(pb.ID)
		}
		if !used && !listed[pb.BlobHandle] {
			listed[pb.BlobHandle] = true
			out = append(out, pb.BlobHandle)
		}
		return ctx.Err() == nil
	})
	return out, ctx.Err()
}
