package prune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/pack"
)

// Errors of the planner, with restic's messages.
var (
	ErrIndexIncomplete = errors.New("index is not complete")
	ErrPacksMissing    = errors.New("packs from index missing in repo")
	ErrSizeNotMatching = errors.New("pack size does not match calculated size from index")
)

// OptionError is an option that does not fit the repository.
type OptionError struct{ msg string }

func (e *OptionError) Error() string { return e.msg }

// minPackSize is restic's smallest pack size, the floor of the target size
// below which packs count as small.
const minPackSize = 4 << 20

// smallPackMinCount: fewer small packs than this are not worth repacking.
const smallPackMinCount = 10

// BlobStats counts blobs.
type BlobStats struct {
	Used, Duplicate, Unused uint
	Remove                  uint // in packs deleted whole
	Repack                  uint // in packs repacked
	RepackRemove            uint // of those, the ones dropped
}

// SizeStats counts bytes (stored sizes, as restic counts them).
type SizeStats struct {
	Used, Duplicate, Unused uint64
	Remove                  uint64
	Repack                  uint64
	RepackRemove            uint64
	Unreferenced            uint64 // packs not in the index
	Uncompressed            uint64 // packs with uncompressed blobs that stay
}

// PackStats counts pack files.
type PackStats struct {
	Used, Unused, PartlyUsed uint
	Unreferenced             uint
	Keep, Repack, Remove     uint
}

// Stats are the numbers restic's prune reports.
type Stats struct {
	Blobs BlobStats
	Size  SizeStats
	Packs PackStats
}

// Totals restic derives for its report.
func (s Stats) TotalBlobs() uint { return s.Blobs.Used + s.Blobs.Unused + s.Blobs.Duplicate }

// TotalSize is the size of all packs, referenced or not.
func (s Stats) TotalSize() uint64 {
	return s.Size.Used + s.Size.Duplicate + s.Size.Unused + s.Size.Unreferenced
}

// UnusedSize is the unused and duplicate data before pruning.
func (s Stats) UnusedSize() uint64 { return s.Size.Duplicate + s.Size.Unused }

// PruneBlobs is the number of blobs pruning removes.
func (s Stats) PruneBlobs() uint { return s.Blobs.Remove + s.Blobs.RepackRemove }

// PruneSize is the number of bytes pruning removes.
func (s Stats) PruneSize() uint64 { return s.Size.Remove + s.Size.RepackRemove + s.Size.Unreferenced }

// UnusedAfter is the unused data left after pruning.
func (s Stats) UnusedAfter() uint64 { return s.UnusedSize() - s.Size.Remove - s.Size.RepackRemove }

// packInfo summarises one pack of the index.
type packInfo struct {
	usedBlobs, unusedBlobs, duplicateBlobs uint
	usedSize, unusedSize                   uint64
	typ                                    model.BlobType // InvalidBlob: mixed; typeUnset: no blob seen yet
	uncompressed                           bool
}

const typeUnset = model.BlobType(255)

func (p *packInfo) size() uint64 { return p.usedSize + p.unusedSize }

type candidate struct {
	id model.ID
	packInfo
	mustCompress bool
}

// Plan is what a prune run will do.
type Plan struct {
	r    *repo.Repository
	opts Options

	removeFirst model.IDSet // packs not in the index
	repack      model.IDSet // packs to repack
	keep        usedSet     // blobs to copy out of the repacked packs
	remove      model.IDSet // packs to delete once the index is rewritten
	ignore      model.IDSet // missing packs to leave out of the index

	stats Stats
}

// Stats returns the plan's statistics.
func (p *Plan) Stats() Stats { return p.stats }

// RemoveUnreferenced, Repack and Remove return the packs the plan deletes
// first, repacks and deletes after repacking.
func (p *Plan) RemoveUnreferenced() model.IDSet { return p.removeFirst }

// Repack returns the packs the plan repacks.
func (p *Plan) Repack() model.IDSet { return p.repack }

// Remove returns the unused packs the plan deletes.
func (p *Plan) Remove() model.IDSet { return p.remove }

// NewPlan finds the data in use and decides, pack by pack, what to keep,
// repack and delete. The repository must be locked exclusively (except for
// a dry run); the index is loaded when that has not happened yet.
func NewPlan(ctx context.Context, r *repo.Repository, opts Options, ev *Events) (*Plan, error) {
	if opts.MaxUnused == nil {
		opts.MaxUnused = UnusedPercent(5)
	}
	if opts.UnsafeRecovery {
		opts.MaxRepackBytes = 0
	}
	if r.Config().Version < 2 && opts.RepackUncompressed {
		return nil, &OptionError{"compression requires at least repository format version 2"}
	}
	packSize := opts.Write.PackSize
	if packSize == 0 {
		packSize = repo.DefaultPackSize
	}
	if opts.SmallPackBytes > uint64(packSize) {
		return nil, &OptionError{"repack-smaller-than exceeds repository packsize"}
	}
	if err := r.LoadIndex(ctx); err != nil {
		return nil, err
	}

	used, err := findUsedBlobs(ctx, r, &opts, ev)
	if err != nil {
		return nil, err
	}

	ev.step(StepSearchPacks, 0)
	p := &Plan{r: r, opts: opts}
	packs, err := p.packInfo(r, used, ev)
	if err != nil {
		return nil, err
	}

	ev.step(StepCollect, 0)
	if err := p.decide(ctx, packs, ev); err != nil {
		return nil, err
	}

	if len(p.repack) > 0 {
		// blobs that stay in kept packs need not be copied
		r.Index().Each(func(pb model.PackedBlob) bool {
			if !p.remove.Has(pb.PackID) && !p.repack.Has(pb.PackID) {
				delete(used, pb.BlobHandle)
			}
			return true
		})
		p.keep = used
	}
	return p, nil
}

// packInfo counts, per pack, the used, unused and duplicate blobs, and
// picks which copy of a duplicate blob counts as used.
func (p *Plan) packInfo(r *repo.Repository, used usedSet, ev *Events) (map[model.ID]*packInfo, error) {
	idx := r.Index()
	st := &p.stats
	// count the copies of each used blob
	idx.Each(func(pb model.PackedBlob) bool {
		if n, ok := used[pb.BlobHandle]; ok && n < math.MaxUint8 {
			used[pb.BlobHandle] = n + 1
		}
		return true
	})
	var missing []string
	for h, n := range used {
		if n == 0 {
			missing = append(missing, h.String())
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		ev.warn(fmt.Sprintf("%s not found in the index\n\n"+
			"Integrity check failed: Data seems to be missing.\n"+
			"Will not start prune to prevent (additional) data loss!\n"+
			"Please report this error (along with the output of the 'prune' run) at\n"+
			"https://github.com/restic/restic/issues/new/choose", blobList(missing)))
		return nil, ErrIndexIncomplete
	}

	packs := make(map[model.ID]*packInfo)
	duplicates := false
	idx.Each(func(pb model.PackedBlob) bool {
		ip := packs[pb.PackID]
		if ip == nil {
			ip = &packInfo{typ: typeUnset, usedSize: pack.HeaderOverhead}
			packs[pb.PackID] = ip
		}
		ip.usedSize += uint64(pack.HeaderSize([]model.Blob{pb.Blob}) - pack.HeaderOverhead)
		switch {
		case ip.typ == typeUnset:
			ip.typ = pb.Type
		case ip.typ != pb.Type:
			ip.typ = model.InvalidBlob
		}
		size := uint64(pb.Length)
		switch n := used[pb.BlobHandle]; {
		case n >= 2:
			duplicates = true
			ip.unusedSize += size
			ip.unusedBlobs++
			ip.duplicateBlobs++
			st.Size.Duplicate += size
			st.Blobs.Duplicate++
		case n == 1:
			ip.usedSize += size
			ip.usedBlobs++
			st.Size.Used += size
			st.Blobs.Used++
		default:
			ip.unusedSize += size
			ip.unusedBlobs++
			st.Size.Unused += size
			st.Blobs.Unused++
		}
		if !pb.IsCompressed() {
			ip.uncompressed = true
		}
		return true
	})

	if duplicates {
		// One copy of each duplicate becomes used: a copy in a pack that
		// has other used blobs, in a pack of duplicates only (what an
		// interrupted prune leaves behind), or else the last one seen.
		idx.Each(func(pb model.PackedBlob) bool {
			n, ok := used[pb.BlobHandle]
			if !ok || n == 1 {
				return true
			}
			ip := packs[pb.PackID]
			size := uint64(pb.Length)
			if ip.usedBlobs > 0 || ip.duplicateBlobs == ip.unusedBlobs || n == 0 {
				ip.usedSize += size
				ip.usedBlobs++
				ip.unusedSize -= size
				ip.unusedBlobs--
				st.Size.Used += size
				st.Blobs.Used++
				st.Size.Duplicate -= size
				st.Blobs.Duplicate--
				used[pb.BlobHandle] = 1
				return true
			}
			n--
			if n == 1 {
				n = 0 // the last copy will be taken
			}
			used[pb.BlobHandle] = n
			return true
		})
	}
	for h, n := range used {
		if n != 1 {
			return nil, fmt.Errorf("internal error during blob selection: %v has count %d", h, n)
		}
	}
	return packs, nil
}

func blobList(l []string) string {
	const maxShown = 10
	if len(l) > maxShown {
		return "{" + strings.Join(l[:maxShown], " ") + fmt.Sprintf(" (%d more)}", len(l)-maxShown-1)
	}
	return "{" + strings.Join(l, " ") + "}"
}

// targetPackSize is 80% of max(4 MiB, the 3rd percentile of pack sizes),
// or the --repack-smaller-than size.
func (p *Plan) targetPackSize(packs map[model.ID]*packInfo) uint64 {
	if p.opts.SmallPackBytes > 0 {
		return p.opts.SmallPackBytes
	}
	if len(packs) == 0 {
		return 0
	}
	sizes := make([]uint64, 0, len(packs))
	for _, ip := range packs {
		sizes = append(sizes, ip.size())
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	return max(minPackSize, sizes[len(sizes)*3/100]) * 4 / 5
}

// decide sorts every pack into keep, repack or delete.
func (p *Plan) decide(ctx context.Context, packs map[model.ID]*packInfo, ev *Events) error {
	st := &p.stats
	p.removeFirst = make(model.IDSet)
	p.remove = make(model.IDSet)
	p.repack = make(model.IDSet)
	p.ignore = make(model.IDSet)
	v2 := p.r.Config().Version >= 2
	target := p.targetPackSize(packs)
	var candidates, small []candidate

	bar := ev.StartCounter("packs processed", len(packs))
	var sizeErr error
	err := p.r.List(ctx, backend.PackFile, func(id model.ID, size int64) error {
		ip, ok := packs[id]
		if !ok {
			ev.info(1, fmt.Sprintf("will remove pack %v as it is unused and not indexed", id.Str()))
			p.removeFirst.Insert(id)
			st.Size.Unreferenced += uint64(size)
			return nil
		}
		if ip.size() != uint64(size) && ip.usedBlobs != 0 {
			ev.warn(fmt.Sprintf("pack %s: calculated size %d does not match real size %d\nRun 'restic repair index'", id.Str(), ip.size(), size))
			sizeErr = ErrSizeNotMatching
			return sizeErr
		}
		switch {
		case ip.usedBlobs == 0:
			st.Packs.Unused++
		case ip.unusedBlobs == 0:
			st.Packs.Used++
		default:
			st.Packs.PartlyUsed++
		}
		if ip.uncompressed {
			st.Size.Uncompressed += ip.size()
		}
		mustCompress := v2 && ip.uncompressed && (ip.typ == model.TreeBlob || p.opts.RepackUncompressed)

		switch {
		case ip.usedBlobs == 0:
			p.remove.Insert(id)
			st.Blobs.Remove += ip.unusedBlobs
			st.Size.Remove += ip.unusedSize
		case p.opts.RepackCacheableOnly && ip.typ == model.DataBlob:
			st.Packs.Keep++
		case ip.unusedBlobs == 0 && ip.typ != model.InvalidBlob && !mustCompress:
			if uint64(size) >= target {
				st.Packs.Keep++
			} else {
				small = append(small, candidate{id: id, packInfo: *ip})
			}
		default:
			candidates = append(candidates, candidate{id: id, packInfo: *ip, mustCompress: mustCompress})
		}
		delete(packs, id)
		bar.Add(1)
		return nil
	})
	bar.Finish()
	if sizeErr != nil {
		return sizeErr
	}
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}

	// what is left in packs is in the index but not in the backend
	for id, ip := range packs {
		if ip.usedBlobs == 0 {
			p.ignore.Insert(id)
			st.Blobs.Remove += ip.unusedBlobs
			st.Size.Remove += ip.unusedSize
			delete(packs, id)
		}
	}
	if len(packs) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "The index references %d needed pack files which are missing from the repository:", len(packs))
		for _, id := range sortedIDs(idSetOf(packs)) {
			fmt.Fprintf(&b, "\n  %v", id)
		}
		ev.warn(b.String())
		return ErrPacksMissing
	}
	if len(p.ignore) > 0 {
		ev.warn("Missing but unneeded pack files are referenced in the index, will be repaired")
		for _, id := range sortedIDs(p.ignore) {
			ev.warn(fmt.Sprintf("will forget missing pack file %v", id))
		}
	}

	if len(small) < smallPackMinCount {
		st.Packs.Keep += uint(len(small))
	} else {
		candidates = append(candidates, small...)
	}

	// tree packs first, then small packs, then by falling share of
	// unused data
	sort.SliceStable(candidates, func(i, j int) bool {
		pi, pj := &candidates[i].packInfo, &candidates[j].packInfo
		switch {
		case pi.typ != model.DataBlob && pj.typ == model.DataBlob:
			return true
		case pj.typ != model.DataBlob && pi.typ == model.DataBlob:
			return false
		case pi.size() < target && pj.size() >= target:
			return true
		case pj.size() < target && pi.size() >= target:
			return false
		}
		return pi.unusedSize*pj.usedSize > pj.unusedSize*pi.usedSize
	})

	repack := func(c *candidate) {
		p.repack.Insert(c.id)
		st.Blobs.Repack += c.unusedBlobs + c.usedBlobs
		st.Size.Repack += c.size()
		st.Blobs.RepackRemove += c.unusedBlobs
		st.Size.RepackRemove += c.unusedSize
		if c.uncompressed {
			st.Size.Uncompressed -= c.size()
		}
	}
	maxUnusedAfter := p.opts.MaxUnused(st.Size.Used)
	for i := range candidates {
		c := &candidates[i]
		remainingUnused := st.Size.Duplicate + st.Size.Unused - st.Size.Remove - st.Size.RepackRemove
		switch {
		case st.Size.Repack+c.size() >= p.opts.MaxRepackBytes:
			st.Packs.Keep++
		case c.typ != model.DataBlob, c.mustCompress:
			repack(c)
		case remainingUnused < maxUnusedAfter && c.size() >= target:
			st.Packs.Keep++
		default:
			repack(c)
		}
	}

	st.Packs.Unreferenced = uint(len(p.removeFirst))
	st.Packs.Repack = uint(len(p.repack))
	st.Packs.Remove = uint(len(p.remove))
	if !v2 {
		st.Size.Uncompressed = 0
	}
	return nil
}

func idSetOf(m map[model.ID]*packInfo) model.IDSet {
	s := make(model.IDSet, len(m))
	for id := range m {
		s.Insert(id)
	}
	return s
}

func sortedIDs(s model.IDSet) model.IDs {
	l := make(model.IDs, 0, len(s))
	for id := range s {
		l = append(l, id)
	}
	sort.Slice(l, func(i, j int) bool { return string(l[i][:]) < string(l[j][:]) })
	return l
}
