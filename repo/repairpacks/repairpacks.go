// Package repairpacks salvages damaged pack files, as restic's `repair
// packs` does.
//
// For each named pack the index lists, every blob that still decrypts and
// matches its ID is stored again in new packs (a blob that does not is
// taken from another pack holding a copy, if there is one). When the pack's
// own header lists other blobs than the index, those are salvaged too.
// Only after the new packs and their index are stored is the index
// rewritten without the named packs, and only then are the packs deleted,
// so an interruption never loses a blob that was still readable. Blobs that
// could not be salvaged are gone from the index afterwards; `repair
// snapshots --forget` removes the references to them.
package repairpacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/prune"
)

// Stage is a step of the repair, announced before it starts.
type Stage int

// The stages in their order.
const (
	StageSalvage      Stage = iota // "salvaging intact data from specified pack files"
	StageRewriteIndex              // "rebuilding index"
	StageRemovePacks               // "removing salvaged pack files"
)

// Events receive what the repair does; any may be nil. They are not called
// concurrently.
type Events struct {
	Stage func(Stage)
	// BlobFailed: a blob of a named pack could not be read, neither there
	// nor from another copy; it is lost.
	BlobFailed func(id model.ID, err error)
	// IncompleteIndexEntry: the pack's header lists other blobs than the
	// index does; the header's blobs are salvaged as well (which can store
	// some twice; prune cleans that up).
	IncompleteIndexEntry func(pack model.ID)
	// NoBlobs: neither the index nor the pack's header lists a blob.
	NoBlobs func(pack model.ID)
	// Progress reports a progress counter as it starts and advances (Done
	// so far); Counter then reports its end. The counters are "pack
	// files" (packs salvaged), then the index rewrite's "indexes
	// processed" and "old indexes deleted", then "files deleted" (packs
	// removed).
	Progress func(prune.Counter)
	// Counter reports a finished progress counter.
	Counter func(prune.Counter)
	// Info is detail restic shows at -vv (level 2): index files removed.
	Info func(level int, msg string)
}

// DamagedError is returned by Download with the bytes of a pack whose
// content does not hash to its name.
type DamagedError struct{ ID model.ID }

func (e *DamagedError) Error() string {
	return fmt.Sprintf("pack %v: content does not match its name", e.ID)
}

// Download returns the stored bytes of a pack, for a backup copy. A pack
// that fails to load or whose content does not match its name is
// downloaded a second time (restic does the same, to tell a broken
// transfer from a damaged file); when it is still damaged, its bytes are
// returned along with a *DamagedError. The error of a failed download is
// the backend's, unwrapped.
func Download(ctx context.Context, r *repo.Repository, id model.ID) ([]byte, error) {
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	buf, err := backend.LoadAll(ctx, r.Backend(), h)
	if err == nil && model.Hash(buf) == id {
		return buf, nil
	}
	if err == nil {
		// maybe a damaged cached copy: LoadRaw drops it and reads again
		buf, err = r.LoadRaw(ctx, backend.PackFile, id)
		if buf != nil && model.Hash(buf) != id {
			return buf, &DamagedError{ID: id}
		}
		return buf, err
	}
	buf, err = backend.LoadAll(ctx, r.Backend(), h)
	if err != nil {
		return nil, err
	}
	if model.Hash(buf) != id {
		return buf, &DamagedError{ID: id}
	}
	return buf, nil
}

// Run salvages the blobs of packs and removes the packs. The index must be
// loaded (r.LoadIndex). opts tune the writer of the new packs
// (StoreDuplicates is always set: the blobs are in the index already, in
// the packs being replaced). r's in-memory index is stale afterwards.
func Run(ctx context.Context, r *repo.Repository, packs model.IDSet, opts repo.WriteOptions, ev Events) error {
	stage := func(s Stage) {
		if ev.Stage != nil {
			ev.Stage(s)
		}
	}
	counters := &prune.Events{Progress: ev.Progress, Counter: ev.Counter, Info: ev.Info}

	stage(StageSalvage)
	salvaged := counters.StartCounter("pack files", len(packs))
	err := salvageAll(ctx, r, packs, opts, ev, salvaged)
	salvaged.Finish()
	if err != nil {
		return err
	}

	stage(StageRewriteIndex)
	if err := prune.RewriteIndex(ctx, r, packs, counters); err != nil {
		return err
	}

	// a pack that cannot be deleted now is left for prune, as restic does
	stage(StageRemovePacks)
	removed := counters.StartCounter("files deleted", len(packs))
	defer removed.Finish()
	for _, id := range sortedIDs(packs) {
		if ctx.Err() != nil {
			break
		}
		if err := r.Backend().Remove(ctx, backend.Handle{Type: backend.PackFile, Name: id.String()}); err == nil {
			removed.Add(1)
		}
	}
	return ctx.Err()
}

// salvageAll saves the intact blobs of packs in new packs, counting each
// pack in bar once its blobs are handled.
func salvageAll(ctx context.Context, r *repo.Repository, packs model.IDSet, opts repo.WriteOptions, ev Events, bar *prune.RunningCounter) error {
	fromIndex := indexedBlobs(r, packs)
	fromHeader, err := headerBlobs(ctx, r, packs)
	if err != nil {
		return err
	}
	opts.StoreDuplicates = true
	w, err := r.NewWriter(ctx, opts)
	if err != nil {
		return err
	}
	s := &salvager{r: r, w: w, ev: ev}
	for _, id := range sortedIDs(fromIndex) {
		indexed := fromIndex[id]
		if err := s.salvage(ctx, id, indexed); err != nil {
			return err
		}
		header, ok := fromHeader[id]
		if ok && !slices.Equal(indexed, header) {
			if ev.IncompleteIndexEntry != nil {
				ev.IncompleteIndexEntry(id)
			}
			if err := s.salvage(ctx, id, header); err != nil {
				return err
			}
		}
		if len(indexed) == 0 && len(header) == 0 && ev.NoBlobs != nil {
			ev.NoBlobs(id)
		}
		bar.Add(1)
	}
	if err := w.Flush(ctx); err != nil {
		return fmt.Errorf("save salvaged blobs: %w", err)
	}
	return nil
}

// indexedBlobs returns the blobs the index lists for each of packs that
// it knows, sorted by offset.
func indexedBlobs(r *repo.Repository, packs model.IDSet) map[model.ID][]model.Blob {
	out := map[model.ID][]model.Blob{}
	r.Index().Each(func(pb model.PackedBlob) bool {
		if packs.Has(pb.PackID) {
			out[pb.PackID] = append(out[pb.PackID], pb.Blob)
		}
		return true
	})
	for _, blobs := range out {
		sortByOffset(blobs)
	}
	return out
}

// headerBlobs reads the headers of those packs that exist; a header that
// cannot be read is left out (the index entry is all there is then).
func headerBlobs(ctx context.Context, r *repo.Repository, packs model.IDSet) (map[model.ID][]model.Blob, error) {
	sizes := map[model.ID]int64{}
	err := r.List(ctx, backend.PackFile, func(id model.ID, size int64) error {
		if packs.Has(id) {
			sizes[id] = size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	out := map[model.ID][]model.Blob{}
	for _, id := range sortedIDs(sizes) {
		blobs, _, err := r.ListPack(ctx, id, sizes[id])
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		sortByOffset(blobs)
		out[id] = blobs
	}
	return out, nil
}

// salvager stores the readable blobs of damaged packs.
type salvager struct {
	r  *repo.Repository
	w  *repo.Writer
	ev Events
}

// Parts of a pack are read with one request each, as restic does: up to
// maxPartSize bytes, and a new request after a gap of unlisted bytes
// larger than maxGap.
const (
	maxPartSize = 2 * repo.DefaultPackSize
	maxGap      = 1 << 20
)

// salvage stores the blobs of pack that can still be read (blobs sorted by
// offset). A part of the pack that cannot be downloaded ends the salvage
// of this pack: its blobs are taken from other copies where there are any.
func (s *salvager) salvage(ctx context.Context, pack model.ID, blobs []model.Blob) error {
	for _, part := range splitParts(blobs) {
		err := s.salvagePart(ctx, pack, part)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, backend.ErrTooShort) {
			return nil // a truncated pack: the rest is lost
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func splitParts(blobs []model.Blob) [][]model.Blob {
	var parts [][]model.Blob
	first := 0
	for i := 1; i < len(blobs); i++ {
		prevEnd := end(blobs[i-1])
		split := blobs[i].Offset < prevEnd || // overlapping entries
			blobs[i].Offset-prevEnd > maxGap ||
			end(blobs[i])-blobs[first].Offset >= maxPartSize
		if split {
			parts = append(parts, blobs[first:i])
			first = i
		}
	}
	if first < len(blobs) {
		parts = append(parts, blobs[first:])
	}
	return parts
}

func end(b model.Blob) uint { return b.Offset + b.Length }

func (s *salvager) salvagePart(ctx context.Context, pack model.ID, part []model.Blob) error {
	start := part[0].Offset
	buf := make([]byte, end(part[len(part)-1])-start)
	h := backend.Handle{Type: backend.PackFile, Name: pack.String(), Metadata: part[0].Type == model.TreeBlob}
	err := s.r.Backend().Load(ctx, h, len(buf), int64(start), func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		// take what other packs hold; the rest of this part is lost
		for _, b := range part {
			plain, lerr := s.r.LoadBlob(ctx, b.Type, b.ID, nil)
			if err := s.save(ctx, b, plain, lerr); err != nil {
				return err
			}
		}
		return fmt.Errorf("load pack %v: %w", pack, err)
	}
	for _, b := range part {
		stored := buf[b.Offset-start : end(b)-start]
		plain, derr := s.r.DecodeBlob(model.PackedBlob{Blob: b, PackID: pack}, stored, nil)
		if derr != nil {
			// a copy elsewhere may be intact
			if other, err := s.r.LoadBlob(ctx, b.Type, b.ID, nil); err == nil {
				plain, derr = other, nil
			}
		}
		if err := s.save(ctx, b, plain, derr); err != nil {
			return err
		}
	}
	return nil
}

// save stores one salvaged blob, or reports it lost when it could not be
// read (readErr).
func (s *salvager) save(ctx context.Context, b model.Blob, plain []byte, readErr error) error {
	if readErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.ev.BlobFailed != nil {
			s.ev.BlobFailed(b.ID, readErr)
		}
		return nil
	}
	if _, _, _, err := s.w.SaveBlob(ctx, b.Type, plain, b.ID); err != nil {
		return fmt.Errorf("save blob %v: %w", b.BlobHandle, err)
	}
	return nil
}

func sortByOffset(blobs []model.Blob) {
	slices.SortFunc(blobs, func(a, b model.Blob) int {
		switch {
		case a.Offset < b.Offset:
			return -1
		case a.Offset > b.Offset:
			return 1
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
}

func sortedIDs[V any](m map[model.ID]V) model.IDs {
	ids := make(model.IDs, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b model.ID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}
