// Package copier copies snapshots from one repository to another.
//
// The two repositories have different keys, so every blob a snapshot needs
// and the destination lacks is read and decrypted from the source, then
// sealed (and compressed, as the destination is configured) anew. Files
// are not chunked again: when the repositories' chunker parameters differ,
// copied data does not deduplicate against data backed up directly.
//
// A copied snapshot keeps its time, paths, host, user, tags and excludes,
// drops its parent, and records the source snapshot's ID (or the ID the
// source itself recorded) in "original". That ID makes copying idempotent:
// a source snapshot whose original already exists in the destination with
// the same fields is skipped.
package copier

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// Events report progress; any may be nil. They are called from the
// goroutine that called Run, but for Progress.
type Events struct {
	// Start is called when a snapshot's data starts being copied.
	Start func(sn *model.Snapshot)
	// Planned reports what one snapshot adds: blobs, their size in the
	// source repository and the number of source packs they are in.
	Planned func(sn *model.Snapshot, blobs int, size uint64, packs int)
	// Progress counts the packs of Planned whose blobs are all stored:
	// first 0, then one call per pack, one call at a time (from the
	// goroutines that copy).
	Progress func(sn *model.Snapshot, done, total int)
	// Copied is called when the snapshot's blobs are stored, with the
	// number of source packs they came from and the time it took.
	Copied func(sn *model.Snapshot, packs int, elapsed time.Duration)
	// Saved is called when a copy of src has been saved as newID.
	Saved func(src *model.Snapshot, newID model.ID)
	// BatchSaving is called before the snapshots of a batch are saved,
	// with the batch's size.
	BatchSaving func(n int)
}

// Options tune Run.
type Options struct {
	// Write configures the destination's pack writer.
	Write repo.WriteOptions
	// BatchBytes and BatchTime bound a batch: snapshots are saved after
	// their data is flushed, once a batch has copied at least BatchBytes
	// and run for BatchTime (restic: 100 packs and one minute).
	BatchBytes uint64
	BatchTime  time.Duration
	// Workers is the number of blobs copied at once (0: a default).
	Workers int
}

// Skip is a source snapshot that the destination already holds.
type Skip struct {
	Source, Copy *model.Snapshot
}

// Pending returns the source snapshots that have no copy in dst yet, in
// the order given, and those that do. A snapshot in dst is a copy of a
// source snapshot when its own ID or its original equals the source's
// original (or ID), and all fields but parent and original match.
func Pending(src, dst []*model.Snapshot) (pending []*model.Snapshot, skipped []Skip) {
	byOriginal := map[model.ID][]*model.Snapshot{}
	for _, sn := range dst {
		if sn.Original != nil && !sn.Original.IsNull() {
			byOriginal[*sn.Original] = append(byOriginal[*sn.Original], sn)
		}
		byOriginal[sn.ID] = append(byOriginal[sn.ID], sn)
	}
	for _, sn := range src {
		orig := sn.ID
		if sn.Original != nil {
			orig = *sn.Original
		}
		i := slices.IndexFunc(byOriginal[orig], func(c *model.Snapshot) bool { return similar(c, sn) })
		if i >= 0 {
			skipped = append(skipped, Skip{Source: sn, Copy: byOriginal[orig][i]})
			continue
		}
		pending = append(pending, sn)
	}
	return pending, skipped
}

// similar reports whether two snapshots agree in everything but parent,
// original and the statistics.
func similar(a, b *model.Snapshot) bool {
	if !a.Time.Equal(b.Time) || a.Tree == nil || b.Tree == nil || *a.Tree != *b.Tree ||
		a.Hostname != b.Hostname || a.Username != b.Username || a.UID != b.UID || a.GID != b.GID ||
		len(a.Paths) != len(b.Paths) || len(a.Tags) != len(b.Tags) || !slices.Equal(a.Excludes, b.Excludes) {
		return false
	}
	return a.HasPaths(b.Paths) && a.HasTags(b.Tags)
}

// Run copies the snapshots from src to dst. Both indexes must be loaded.
// Snapshots are saved in batches, each after the data it needs is stored
// and indexed, so an interrupted copy leaves no snapshot without its data,
// and the next run reuses what was uploaded.
func Run(ctx context.Context, src, dst *repo.Repository, snaps []*model.Snapshot, opts Options, ev Events) error {
	if opts.BatchBytes == 0 {
		packSize := opts.Write.PackSize
		if packSize == 0 {
			packSize = repo.DefaultPackSize
		}
		opts.BatchBytes = uint64(packSize) * 100
	}
	if opts.BatchTime == 0 {
		opts.BatchTime = time.Minute
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0) + int(src.Backend().Properties().Connections)
	}
	c := &copier{src: src, dst: dst, opts: opts, ev: ev, visited: model.IDSet{}, queued: map[model.BlobHandle]bool{}}
	for len(snaps) > 0 {
		n, err := c.batch(ctx, snaps)
		if err != nil {
			return err
		}
		snaps = snaps[n:]
	}
	return nil
}

type copier struct {
	src, dst *repo.Repository
	opts     Options
	ev       Events
	// visited holds the trees already walked, across snapshots.
	visited model.IDSet
	// queued holds the blobs already copied or being copied.
	queued map[model.BlobHandle]bool
}

// batch copies snapshots until the batch is large and old enough, then
// flushes and saves them. It returns how many snapshots it handled.
func (c *copier) batch(ctx context.Context, snaps []*model.Snapshot) (int, error) {
	w, err := c.dst.NewWriter(ctx, c.opts.Write)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	var size uint64
	n := 0
	for n < len(snaps) && (size < c.opts.BatchBytes || time.Since(start) < c.opts.BatchTime) {
		sn := snaps[n]
		n++
		if c.ev.Start != nil {
			c.ev.Start(sn)
		}
		s, err := c.copyTree(ctx, w, sn)
		if err != nil {
			return 0, err
		}
		size += s
	}
	if err := w.Flush(ctx); err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	if c.ev.BatchSaving != nil {
		c.ev.BatchSaving(n)
	}
	for _, sn := range snaps[:n] {
		cp := *sn
		cp.Parent = nil
		if cp.Original == nil {
			id := sn.ID
			cp.Original = &id
		}
		cp.ID = model.ID{}
		id, err := c.dst.SaveSnapshot(ctx, &cp)
		if err != nil {
			return 0, fmt.Errorf("save copy of snapshot %s: %w", sn.ID.Str(), err)
		}
		if c.ev.Saved != nil {
			c.ev.Saved(sn, id)
		}
	}
	return n, nil
}

// copyTree finds the blobs of the snapshot's tree that dst lacks and copies
// them. It returns their size in the source repository.
func (c *copier) copyTree(ctx context.Context, w *repo.Writer, sn *model.Snapshot) (uint64, error) {
	if sn.Tree == nil {
		return 0, fmt.Errorf("snapshot %s has no tree", sn.ID.Str())
	}
	var todo []model.PackedBlob
	packs := model.IDSet{}
	var size uint64
	need := func(h model.BlobHandle) error {
		if c.queued[h] || c.dst.Index().Has(h) {
			return nil
		}
		copies := c.src.Index().Lookup(h)
		if len(copies) == 0 {
			return fmt.Errorf("snapshot %s: %v is missing from the source index", sn.ID.Str(), h)
		}
		c.queued[h] = true
		todo = append(todo, copies[0])
		packs.Insert(copies[0].PackID)
		size += uint64(copies[0].Length)
		return nil
	}
	stack := []model.ID{*sn.Tree}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.visited.Has(id) {
			continue
		}
		c.visited.Insert(id)
		if err := need(model.BlobHandle{ID: id, Type: model.TreeBlob}); err != nil {
			return 0, err
		}
		t, err := c.src.LoadTree(ctx, id)
		if err != nil {
			return 0, fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
		}
		for _, n := range t.Nodes {
			for _, b := range n.Content {
				if err := need(model.BlobHandle{ID: b, Type: model.DataBlob}); err != nil {
					return 0, err
				}
			}
			if n.Subtree != nil {
				stack = append(stack, *n.Subtree)
			}
		}
	}
	if c.ev.Planned != nil {
		c.ev.Planned(sn, len(todo), size, len(packs))
	}
	// read each pack's blobs in file order, packs in a fixed order
	slices.SortFunc(todo, func(a, b model.PackedBlob) int {
		if c := bytes.Compare(a.PackID[:], b.PackID[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.Offset, b.Offset)
	})
	start := time.Now()
	if err := c.copyBlobs(ctx, w, todo, c.packProgress(sn, todo, len(packs))); err != nil {
		return 0, err
	}
	if c.ev.Copied != nil {
		c.ev.Copied(sn, len(packs), time.Since(start))
	}
	return size, nil
}

// packProgress returns the function that counts one more blob of blobs
// stored and reports each source pack whose blobs are all stored
// (Events.Progress), after reporting 0 of packs; safe for concurrent
// calls.
func (c *copier) packProgress(sn *model.Snapshot, blobs []model.PackedBlob, packs int) func(model.PackedBlob) {
	if c.ev.Progress == nil {
		return func(model.PackedBlob) {}
	}
	c.ev.Progress(sn, 0, packs)
	left := map[model.ID]int{}
	for _, pb := range blobs {
		left[pb.PackID]++
	}
	var mu sync.Mutex
	done := 0
	return func(pb model.PackedBlob) {
		mu.Lock()
		defer mu.Unlock()
		if left[pb.PackID]--; left[pb.PackID] == 0 {
			done++
			c.ev.Progress(sn, done, packs)
		}
	}
}

// copyBlobs loads the blobs from the source and saves them to the writer,
// several at a time, and calls stored after each.
func (c *copier) copyBlobs(ctx context.Context, w *repo.Writer, blobs []model.PackedBlob, stored func(model.PackedBlob)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan model.PackedBlob)
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() {
			var buf []byte
			for pb := range ch {
				plain, err := c.src.LoadBlob(ctx, pb.Type, pb.ID, buf)
				if err == nil {
					_, _, _, err = w.SaveBlob(ctx, pb.Type, plain, pb.ID)
				}
				if err != nil {
					cancel(fmt.Errorf("copy %v: %w", pb.BlobHandle, err))
					continue
				}
				stored(pb)
				buf = plain
			}
		})
	}
feed:
	for _, pb := range blobs {
		select {
		case ch <- pb:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	return context.Cause(ctx)
}
