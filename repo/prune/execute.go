package prune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/index"
	"github.com/arca-backup/arca/repo/model"
)

// indexMaxBlobs is how many blobs a rewritten index file holds at most
// (restic's limit for a full index).
const indexMaxBlobs = 50000

// Checkpoints passed to Events.Checkpoint, for crash tests.
const (
	CheckpointPackRepacked = "pack-repacked" // after each repacked pack was read and its blobs saved
	CheckpointRepacked     = "repacked"      // new packs and their index files are stored
	CheckpointIndexWritten = "index-written" // new index files stored, old ones not yet deleted
	CheckpointIndexDeleted = "index-deleted" // old index files deleted, packs not yet
	CheckpointPackDeleted  = "pack-deleted"  // after each deleted pack
)

// Execute carries the plan out in the order that keeps the repository
// valid at every point: delete packs no index references, repack, write
// the new index, delete the old index files, delete the packs no longer
// referenced. An interrupted run leaves at worst unreferenced packs and
// duplicate index entries, which the next run cleans up.
func (p *Plan) Execute(ctx context.Context, ev *Events) error {
	if p.opts.DryRun {
		ev.info(1, "Repeated prune dry-runs can report slightly different amounts of data to keep or repack. This is expected behavior.\n\n")
		if len(p.removeFirst) > 0 {
			ev.info(1, fmt.Sprintf("Would have removed the following unreferenced packs:\n%v\n\n", IDList(p.removeFirst)))
		}
		ev.info(1, fmt.Sprintf("Would have repacked and removed the following packs:\n%v\n\n", IDList(p.repack)))
		ev.info(1, fmt.Sprintf("Would have removed the following no longer used packs:\n%v\n\n", IDList(p.remove)))
		return nil
	}
	r := p.r
	if r == nil {
		return errors.New("prune plan was already executed")
	}
	p.r = nil

	if len(p.removeFirst) > 0 {
		ev.step(StepDeleteUnreferenced, len(p.removeFirst))
		// keeping a pack too many cannot damage the repository
		_ = deleteFiles(ctx, r, backend.PackFile, p.removeFirst, true, ev, "")
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	remove := make(model.IDSet, len(p.remove)+len(p.repack))
	for id := range p.remove {
		remove.Insert(id)
	}
	if len(p.repack) > 0 {
		ev.step(StepRepack, len(p.repack))
		if err := p.repackPacks(ctx, r, ev); err != nil {
			return err
		}
		for id := range p.repack {
			remove.Insert(id)
		}
		ev.checkpoint(CheckpointRepacked)
	}

	exclude := make(model.IDSet, len(remove)+len(p.ignore))
	for id := range remove {
		exclude.Insert(id)
	}
	for id := range p.ignore {
		exclude.Insert(id)
	}

	var indexFiles model.IDs
	if p.opts.UnsafeRecovery {
		ev.step(StepDeleteIndex, 0)
		if err := r.List(ctx, backend.IndexFile, func(id model.ID, _ int64) error {
			indexFiles = append(indexFiles, id)
			return nil
		}); err != nil {
			return fmt.Errorf("list index files: %w", err)
		}
		if err := deleteFiles(ctx, r, backend.IndexFile, idSet(indexFiles), false, ev, ""); err != nil {
			return err
		}
		ev.checkpoint(CheckpointIndexDeleted)
	} else if len(exclude) > 0 {
		ev.step(StepRebuildIndex, 0)
		if err := rewriteIndex(ctx, r, exclude, ev); err != nil {
			return err
		}
	}

	if len(remove) > 0 {
		ev.step(StepRemovePacks, len(remove))
		_ = deleteFiles(ctx, r, backend.PackFile, remove, true, ev, CheckpointPackDeleted)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if p.opts.UnsafeRecovery {
		if err := saveFallbackIndex(ctx, r, exclude, ev); err != nil {
			return err
		}
	}
	ev.step(StepDone, 0)
	return nil
}

func (e *Events) checkpoint(name string) {
	if e != nil && e.Checkpoint != nil {
		e.Checkpoint(name)
	}
}

func idSet(ids model.IDs) model.IDSet {
	s := make(model.IDSet, len(ids))
	for _, id := range ids {
		s.Insert(id)
	}
	return s
}

// repackPacks copies the blobs to keep out of the packs to repack into new
// packs, each blob once.
func (p *Plan) repackPacks(ctx context.Context, r *repo.Repository, ev *Events) error {
	// the blobs to copy, by pack, in pack order
	byPack := make(map[model.ID][]model.Blob, len(p.repack))
	r.Index().Each(func(pb model.PackedBlob) bool {
		if p.repack.Has(pb.PackID) {
			if _, ok := p.keep[pb.BlobHandle]; ok {
				byPack[pb.PackID] = append(byPack[pb.PackID], pb.Blob)
			}
		}
		return true
	})
	packs := sortedIDs(p.repack)

	wopts := p.opts.Write
	wopts.StoreDuplicates = true
	w, err := r.NewWriter(ctx, wopts)
	if err != nil {
		return err
	}
	bar := ev.StartCounter("packs repacked", len(packs))
	var mu sync.Mutex // guards p.keep, bar and checkpoints
	claim := func(h model.BlobHandle) bool {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := p.keep[h]; !ok {
			return false
		}
		delete(p.keep, h)
		return true
	}
	workers := min(runtime.GOMAXPROCS(0), 4, max(1, int(r.Backend().Properties().Connections)))
	err = repo.ForEachParallel(ctx, workers, packs, func(ctx context.Context, id model.ID) error {
		if err := copyBlobs(ctx, r, w, id, byPack[id], claim); err != nil {
			return err
		}
		mu.Lock()
		bar.Add(1)
		ev.checkpoint(CheckpointPackRepacked)
		mu.Unlock()
		return nil
	})
	if err == nil {
		err = w.Flush(ctx)
	} else {
		_ = w.Flush(ctx)
	}
	bar.Finish()
	if err != nil {
		return fmt.Errorf("repack: %w", err)
	}
	if len(p.keep) > 0 {
		var l []string
		for h := range p.keep {
			l = append(l, h.String())
		}
		sort.Strings(l)
		ev.warn(fmt.Sprintf("%s was not repacked\n\n"+
			"Integrity check failed.\n"+
			"Please report this error (along with the output of the 'prune' run) at\n"+
			"https://github.com/restic/restic/issues/new/choose", blobList(l)))
		return errors.New("internal error: blobs were not repacked")
	}
	return nil
}

// copyBlobs reads the byte range of pack id that holds blobs and saves
// each blob not saved before through w: compressed blobs, and blobs the
// writer would not compress, are copied as stored (no second compression
// or encryption); uncompressed blobs the writer compresses
// (--repack-uncompressed, tree blobs of version 2) are compressed.
func copyBlobs(ctx context.Context, r *repo.Repository, w *repo.Writer, id model.ID, blobs []model.Blob, claim func(model.BlobHandle) bool) error {
	if len(blobs) == 0 {
		return nil
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].Offset < blobs[j].Offset })
	start := blobs[0].Offset
	end := start
	for _, b := range blobs {
		end = max(end, b.Offset+b.Length)
	}
	buf := make([]byte, end-start)
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	err := r.Backend().Load(ctx, h, len(buf), int64(start), func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	if err != nil {
		return fmt.Errorf("load pack %s: %w", id.Str(), err)
	}
	var plain, scratch []byte
	for _, b := range blobs {
		if !claim(b.BlobHandle) {
			continue
		}
		stored := buf[b.Offset-start : b.Offset-start+b.Length]
		// stored as the writer would store it: copy the sealed bytes
		asStored := b.IsCompressed() || !w.Compresses(b.Type)
		toDecode := stored
		if asStored {
			// decoding decrypts in place; keep the sealed bytes
			scratch = append(scratch[:0], stored...)
			toDecode = scratch
		}
		// decoding checks the blob's MAC and hash
		plain, err = r.DecodeBlob(model.PackedBlob{Blob: b, PackID: id}, toDecode, plain[:0])
		if err != nil {
			return err // it names the blob and the pack
		}
		if asStored {
			_, err = w.SaveStoredBlob(ctx, b.Type, b.ID, stored, int(b.UncompressedLength))
		} else {
			_, _, _, err = w.SaveBlob(ctx, b.Type, plain, b.ID)
		}
		if err != nil {
			return fmt.Errorf("save blob %v: %w", b.BlobHandle, err)
		}
	}
	return nil
}

// RewriteIndex is the "rebuilding index" step on its own (restic's
// rewriteIndexFiles): it rewrites the index without the packs in exclude,
// reporting the "indexes processed" and "old indexes deleted" counters.
// repair packs uses it to drop the packs it salvaged.
func RewriteIndex(ctx context.Context, r *repo.Repository, exclude model.IDSet, ev *Events) error {
	return rewriteIndex(ctx, r, exclude, ev)
}

// rewriteIndex writes new index files for the index files that mention an
// excluded pack, a pack entry another file already lists, or are not full
// (fewer than indexMaxBlobs blobs), leaving out the excluded packs, then
// deletes the files it replaced.
func rewriteIndex(ctx context.Context, r *repo.Repository, exclude model.IDSet, ev *Events) error {
	var ids model.IDs
	if err := r.List(ctx, backend.IndexFile, func(id model.ID, _ int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return fmt.Errorf("list index files: %w", err)
	}
	bar := ev.StartCounter("indexes processed", len(ids))
	seen := make(map[model.ID]struct{}) // hashes of pack entries already kept
	obsolete := make(model.IDSet)
	var keepPacks []index.PackJSON
	err := r.ForEachIndexFile(ctx, nil, func(id model.ID, f *index.File, err error) error {
		if err != nil {
			return fmt.Errorf("load index %s: %w", id.Str(), err)
		}
		hashes := make([]model.ID, len(f.Packs))
		// like restic, files that are not full are merged into new ones
		blobs := 0
		for _, pj := range f.Packs {
			blobs += len(pj.Blobs)
		}
		rewrite := blobs < indexMaxBlobs
		for i, pj := range f.Packs {
			hashes[i] = packEntryHash(pj)
			if exclude.Has(pj.ID) {
				rewrite = true
			} else if _, ok := seen[hashes[i]]; ok {
				rewrite = true
			}
		}
		if rewrite {
			obsolete.Insert(id)
		}
		for i, pj := range f.Packs {
			if exclude.Has(pj.ID) {
				continue
			}
			if _, ok := seen[hashes[i]]; ok {
				continue
			}
			seen[hashes[i]] = struct{}{}
			if rewrite {
				keepPacks = append(keepPacks, pj)
			}
		}
		bar.Add(1)
		return nil
	})
	if err != nil {
		bar.Finish()
		return fmt.Errorf("failed to rewrite indexes: %w", err)
	}
	err = saveIndexFiles(ctx, r, keepPacks)
	bar.Finish()
	if err != nil {
		return fmt.Errorf("failed to rewrite indexes: %w", err)
	}
	ev.checkpoint(CheckpointIndexWritten)

	bar = ev.StartCounter("old indexes deleted", len(obsolete))
	defer bar.Finish()
	err = removeParallel(ctx, r, backend.IndexFile, obsolete, func(id model.ID, err error) error {
		if err != nil {
			ev.info(2, fmt.Sprintf("failed to remove index %v: %v", id, err))
			return err
		}
		ev.info(2, fmt.Sprintf("removed index %v", id))
		bar.Add(1)
		return nil
	})
	if err != nil {
		return err
	}
	ev.checkpoint(CheckpointIndexDeleted)
	return nil
}

// packEntryHash identifies a pack's entry in an index file by its pack ID
// and blobs, so that an entry listed twice is kept once while differing
// entries of one pack (left by old restic versions) are all kept.
func packEntryHash(pj index.PackJSON) model.ID {
	buf := make([]byte, 0, model.IDSize*(1+len(pj.Blobs))+len(pj.Blobs)*13)
	buf = append(buf, pj.ID[:]...)
	for _, b := range pj.Blobs {
		buf = append(buf, b.ID[:]...)
		buf = append(buf, byte(b.Type))
		buf = appendUint32(buf, uint32(b.Offset))
		buf = appendUint32(buf, uint32(b.Length))
		buf = appendUint32(buf, uint32(b.UncompressedLength))
	}
	return model.Hash(buf)
}

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// saveIndexFiles stores packs as index files, starting a new file once one
// holds indexMaxBlobs blobs (as restic does, so that file counts as full).
func saveIndexFiles(ctx context.Context, r *repo.Repository, packs []index.PackJSON) error {
	var batch []index.PackJSON
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		f := index.File{Packs: batch}
		buf, err := f.Encode()
		if err != nil {
			return err
		}
		if _, err := r.SaveUnpacked(ctx, backend.IndexFile, buf); err != nil {
			return fmt.Errorf("save index: %w", err)
		}
		batch, n = nil, 0
		return nil
	}
	for _, pj := range packs {
		batch = append(batch, pj)
		n += len(pj.Blobs)
		if n >= indexMaxBlobs {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// saveFallbackIndex writes the in-memory index, without the excluded
// packs, as new index files (unsafe recovery, after all index files were
// deleted).
func saveFallbackIndex(ctx context.Context, r *repo.Repository, exclude model.IDSet, ev *Events) error {
	byPack := make(map[model.ID][]index.BlobJSON)
	r.Index().Each(func(pb model.PackedBlob) bool {
		if !exclude.Has(pb.PackID) {
			byPack[pb.PackID] = append(byPack[pb.PackID], index.BlobJSON{
				ID: pb.ID, Type: pb.Type, Offset: pb.Offset, Length: pb.Length, UncompressedLength: pb.UncompressedLength,
			})
		}
		return true
	})
	bar := ev.StartCounter("packs processed", len(byPack))
	defer bar.Finish()
	packs := make([]index.PackJSON, 0, len(byPack))
	for _, id := range sortedIDs(idSetOfBlobs(byPack)) {
		blobs := byPack[id]
		sort.Slice(blobs, func(i, j int) bool { return blobs[i].Offset < blobs[j].Offset })
		packs = append(packs, index.PackJSON{ID: id, Blobs: blobs})
		bar.Add(1)
	}
	if err := saveIndexFiles(ctx, r, packs); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	return nil
}

func idSetOfBlobs(m map[model.ID][]index.BlobJSON) model.IDSet {
	s := make(model.IDSet, len(m))
	for id := range m {
		s.Insert(id)
	}
	return s
}

// deleteFiles removes files in parallel, reporting a "files deleted"
// counter. With ignoreErrors, failures are warnings only.
func deleteFiles(ctx context.Context, r *repo.Repository, t backend.FileType, ids model.IDSet, ignoreErrors bool, ev *Events, checkpoint string) error {
	bar := ev.StartCounter("files deleted", len(ids))
	defer bar.Finish()
	return removeParallel(ctx, r, t, ids, func(id model.ID, err error) error {
		if err != nil {
			ev.warn(fmt.Sprintf("unable to remove %v/%v from the repository", t, id))
			if !ignoreErrors {
				return err
			}
		} else {
			ev.info(2, fmt.Sprintf("removed %v/%v", t, id))
		}
		bar.Add(1)
		if checkpoint != "" {
			ev.checkpoint(checkpoint)
		}
		return nil
	})
}

// removeParallel deletes files with a few workers, calling report (never
// concurrently) for each; an error from report stops the deletion.
func removeParallel(ctx context.Context, r *repo.Repository, t backend.FileType, ids model.IDSet, report func(model.ID, error) error) error {
	var mu sync.Mutex
	workers := max(2, int(r.Backend().Properties().Connections))
	return repo.ForEachParallel(ctx, workers, sortedIDs(ids), func(ctx context.Context, id model.ID) error {
		err := r.Backend().Remove(ctx, backend.Handle{Type: t, Name: id.String()})
		mu.Lock()
		defer mu.Unlock()
		return report(id, err)
	})
}
