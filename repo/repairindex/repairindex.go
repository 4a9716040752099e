// Package repairindex rebuilds a repository's index from its pack files,
// as restic's `repair index` does.
//
// The index files that can be read are kept as the starting point (unless
// every pack is to be read again); packs they do not list, or list with a
// size the pack file does not have, have their headers read; packs they list
// that no longer exist are dropped. Then the index is written anew: new
// index files for the packs that were read, rewritten files for the old
// index files that changed or are small, and only after all new files are
// stored the obsolete ones are removed, so that a crash in between leaves a
// complete index behind.
package repairindex

import (
	"bytes"
	"context"
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

// Options tune Run.
type Options struct {
	// ReadAllPacks ignores the existing index and reads every pack header.
	ReadAllPacks bool
}

// Stage is a step of the repair, announced before it starts.
type Stage int

// The stages in their order. StageLoadIndex is skipped with ReadAllPacks,
// StageReadPacks when no pack needs reading.
const (
	StageLoadIndex Stage = iota
	StageListPacks
	StageReadPacks
	StageRewrite
	StageDelete
)

// Events receive what the repair does; any may be nil. They are not called
// concurrently.
type Events struct {
	Stage func(Stage)
	// InvalidIndex: an index file cannot be read; it will be removed.
	InvalidIndex func(id model.ID, err error)
	// PackAdded: a pack no index lists will be read and indexed.
	PackAdded func(id model.ID)
	// PackResized: a pack's size differs from the index; it is read again.
	PackResized func(id model.ID, size, indexed int64)
	// PackMissing: a pack the index lists does not exist; it is dropped.
	PackMissing func(id model.ID)
	// PackUnreadable: a pack's header cannot be read; it stays unindexed.
	PackUnreadable func(id model.ID, err error)
	// Progress of the stages with a count: packs read, old index files
	// processed, obsolete index files removed.
	ReadProgress, RewriteProgress, DeleteProgress func(done, total int)
	// Removed: an obsolete index file was removed (or could not be).
	Removed func(id model.ID, err error)
}

// indexMaxBlobs is how many blobs make an index file "full": restic keeps
// full, unchanged index files and starts a new file at this size.
const indexMaxBlobs = 50000

// indexOversized is where restic rewrites a full index file anyway:
// indexMaxBlobs plus the most entries one pack header can hold.
const indexOversized = indexMaxBlobs + (16*1024*1024-pack.HeaderOverhead)/pack.PlainEntrySize

// Run rebuilds the index of r. r's in-memory index is not updated; open
// the repository again to use the new index.
func Run(ctx context.Context, r *repo.Repository, opts Options, ev Events) error {
	stage := func(s Stage) {
		if ev.Stage != nil {
			ev.Stage(s)
		}
	}
	var obsolete model.IDs
	old := map[model.ID]*index.File{}
	if opts.ReadAllPacks {
		err := r.List(ctx, backend.IndexFile, func(id model.ID, _ int64) error {
			obsolete = append(obsolete, id)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list index files: %w", err)
		}
	} else {
		stage(StageLoadIndex)
		err := r.ForEachIndexFile(ctx, nil, func(id model.ID, f *index.File, err error) error {
			if err != nil {
				if ev.InvalidIndex != nil {
					ev.InvalidIndex(id, err)
				}
				obsolete = append(obsolete, id)
				return nil
			}
			old[id] = f
			return nil
		})
		if err != nil {
			return err
		}
	}
	indexed := packSizes(old)

	stage(StageListPacks)
	toRead := map[model.ID]int64{}
	remove := model.IDSet{}
	err := r.List(ctx, backend.PackFile, func(id model.ID, size int64) error {
		want, ok := indexed[id]
		delete(indexed, id)
		switch {
		case !ok:
			if ev.PackAdded != nil {
				ev.PackAdded(id)
			}
		case want != size:
			if ev.PackResized != nil {
				ev.PackResized(id, size, want)
			}
		default:
			return nil
		}
		toRead[id] = size
		remove.Insert(id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}
	for _, id := range sortedIDs(indexed) {
		remove.Insert(id)
		if ev.PackMissing != nil {
			ev.PackMissing(id)
		}
	}

	var read map[model.ID][]model.Blob
	if len(toRead) > 0 {
		stage(StageReadPacks)
		read, err = readPacks(ctx, r, toRead, ev)
		if err != nil {
			return err
		}
	}

	stage(StageRewrite)
	w := &indexWriter{r: r}
	for _, id := range sortedIDs(read) {
		if err := w.add(ctx, packJSON(id, read[id])); err != nil {
			return err
		}
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	if obs, err := rewriteOld(ctx, w, old, remove, ev.RewriteProgress); err != nil {
		return err
	} else {
		obsolete = append(obsolete, obs...)
	}

	stage(StageDelete)
	if ev.DeleteProgress != nil {
		ev.DeleteProgress(0, len(obsolete))
	}
	sortIDs(obsolete)
	for i, id := range obsolete {
		err := r.Backend().Remove(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()})
		if ev.Removed != nil {
			ev.Removed(id, err)
		}
		if err != nil {
			return fmt.Errorf("remove index %v: %w", id.Str(), err)
		}
		if ev.DeleteProgress != nil {
			ev.DeleteProgress(i+1, len(obsolete))
		}
	}
	return nil
}

// rewriteOld writes the packs of the old index files again, leaving out
// removed packs and entries already written, except for full files that
// need no change, which are kept as they are. It returns the files that
// are now obsolete.
func rewriteOld(ctx context.Context, w *indexWriter, old map[model.ID]*index.File, remove model.IDSet, progress func(done, total int)) (model.IDs, error) {
	if progress != nil {
		progress(0, len(old))
	}
	seen := model.IDSet{}
	var obsolete model.IDs
	for i, id := range sortedIDs(old) {
		f := old[id]
		var hashes model.IDs
		blobs, clean := 0, true
		for _, p := range f.Packs {
			blobs += len(p.Blobs)
			if remove.Has(p.ID) {
				clean = false
				continue
			}
			h := p.ContentHash()
			if seen.Has(h) {
				clean = false
			}
			hashes = append(hashes, h)
		}
		if clean && blobs >= indexMaxBlobs && blobs < indexOversized {
			for _, h := range hashes {
				seen.Insert(h)
			}
		} else {
			obsolete = append(obsolete, id)
			for _, p := range f.Packs {
				if remove.Has(p.ID) {
					continue
				}
				h := p.ContentHash()
				if seen.Has(h) {
					continue
				}
				seen.Insert(h)
				if err := w.add(ctx, p); err != nil {
					return nil, err
				}
			}
		}
		if progress != nil {
			progress(i+1, len(old))
		}
	}
	return obsolete, w.flush(ctx)
}

// packSizes returns each indexed pack's size as its index entries imply.
func packSizes(files map[model.ID]*index.File) map[model.ID]int64 {
	type key struct {
		pack model.ID
		blob index.BlobJSON
	}
	seen := map[key]bool{}
	byPack := map[model.ID][]model.Blob{}
	for _, f := range files {
		for _, p := range f.Packs {
			for _, b := range p.Blobs {
				k := key{p.ID, b}
				if seen[k] {
					continue
				}
				seen[k] = true
				byPack[p.ID] = append(byPack[p.ID], model.Blob{
					BlobHandle: model.BlobHandle{ID: b.ID, Type: b.Type}, Offset: b.Offset,
					Length: b.Length, UncompressedLength: b.UncompressedLength,
				})
			}
		}
	}
	sizes := make(map[model.ID]int64, len(byPack))
	for id, blobs := range byPack {
		size := int64(pack.HeaderSize(blobs))
		for _, b := range blobs {
			size += int64(b.Length)
		}
		sizes[id] = size
	}
	return sizes
}

// readPacks reads the headers of packs in parallel.
func readPacks(ctx context.Context, r *repo.Repository, packs map[model.ID]int64, ev Events) (map[model.ID][]model.Blob, error) {
	ids := sortedIDs(packs)
	out := make(map[model.ID][]model.Blob, len(ids))
	var mu sync.Mutex
	done := 0
	if ev.ReadProgress != nil {
		ev.ReadProgress(0, len(ids))
	}
	workers := max(1, int(r.Backend().Properties().Connections))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan model.ID)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ch {
				blobs, _, err := r.ListPack(ctx, id, packs[id])
				mu.Lock()
				if err != nil {
					if ctx.Err() == nil && ev.PackUnreadable != nil {
						ev.PackUnreadable(id, err)
					}
				} else {
					out[id] = blobs
				}
				done++
				if ev.ReadProgress != nil {
					ev.ReadProgress(done, len(ids))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case ch <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	return out, ctx.Err()
}

func packJSON(id model.ID, blobs []model.Blob) index.PackJSON {
	p := index.PackJSON{ID: id, Blobs: make([]index.BlobJSON, len(blobs))}
	for i, b := range blobs {
		p.Blobs[i] = index.BlobJSON{ID: b.ID, Type: b.Type, Offset: b.Offset, Length: b.Length, UncompressedLength: b.UncompressedLength}
	}
	return p
}

// indexWriter collects pack entries into index files of at most
// indexMaxBlobs blobs (a file is written once it reaches that size).
type indexWriter struct {
	r     *repo.Repository
	cur   index.File
	blobs int
}

func (w *indexWriter) add(ctx context.Context, p index.PackJSON) error {
	w.cur.Packs = append(w.cur.Packs, p)
	w.blobs += len(p.Blobs)
	if w.blobs >= indexMaxBlobs {
		return w.flush(ctx)
	}
	return nil
}

func (w *indexWriter) flush(ctx context.Context) error {
	if len(w.cur.Packs) == 0 {
		return nil
	}
	buf, err := w.cur.Encode()
	if err != nil {
		return err
	}
	if _, err := w.r.SaveUnpacked(ctx, backend.IndexFile, buf); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	w.cur, w.blobs = index.File{}, 0
	return nil
}

func sortIDs(ids model.IDs) {
	slices.SortFunc(ids, func(a, b model.ID) int { return bytes.Compare(a[:], b[:]) })
}

func sortedIDs[V any](m map[model.ID]V) model.IDs {
	ids := slices.Collect(maps.Keys(m))
	sortIDs(ids)
	return ids
}
