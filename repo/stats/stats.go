// Package stats computes restic's repository statistics over a set of
// snapshots, in restic's four counting modes:
//
//   - restore-size: every item of every snapshot, and the bytes a restore
//     would write (hard-linked files once per snapshot);
//   - files-by-contents: items with distinct content (the sequence of their
//     data blob IDs), each counted once over all snapshots;
//   - blobs-per-file: like files-by-contents, but sizes the data blobs of
//     each distinct file, each blob once per path;
//   - raw-data: the distinct tree and data blobs the snapshots reference,
//     with their stored and uncompressed sizes.
//
// A Counter takes the snapshots one after another (AddSnapshot) and then
// gives the totals (Result). It remembers the totals of every tree it has
// walked, so a subtree that occurs again (in the same or a later snapshot)
// is not loaded and walked again unless its result depends on what was
// seen before.
package stats

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// Mode is a counting mode.
type Mode string

// The counting modes, named as restic's --mode values.
const (
	RestoreSize     Mode = "restore-size"
	FilesByContents Mode = "files-by-contents"
	BlobsPerFile    Mode = "blobs-per-file"
	RawData         Mode = "raw-data"
)

// ErrUnknownMode is returned by ParseMode.
var ErrUnknownMode = errors.New("unknown counting mode")

// ParseMode checks a --mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case RestoreSize, FilesByContents, BlobsPerFile, RawData:
		return m, nil
	}
	return "", fmt.Errorf("%w: %s", ErrUnknownMode, s)
}

// Source is what the counter reads: trees, and blob locations from the index.
type Source interface {
	LoadTree(ctx context.Context, id model.ID) (*model.Tree, error)
	// LookupBlob returns the stored copies of a blob (none when unknown).
	LookupBlob(h model.BlobHandle) []model.PackedBlob
}

// Prefetcher is implemented by sources that can load trees in the
// background ahead of use (walker.TreeLoader does).
type Prefetcher interface {
	Prefetch(ctx context.Context, wg *sync.WaitGroup, ids ...model.ID)
}

// Result holds the totals. Fields a mode does not compute stay zero.
type Result struct {
	TotalSize              uint64
	TotalUncompressedSize  uint64 // raw-data, repository version 2
	CompressionRatio       float64
	CompressionProgress    float64 // percent of the data stored compressed
	CompressionSpaceSaving float64 // percent
	TotalFileCount         uint64
	TotalBlobCount         uint64
	SnapshotsCount         int
}

// Progress is the state of a running count, as restic's progress line
// shows it: the number of snapshots started, and for the current snapshot
// the items visited, blobs counted and bytes seen. Safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	snapshot uint64
	files    uint64
	blobs    uint64
	bytes    uint64
}

// ProgressState is a snapshot of a Progress.
type ProgressState struct {
	Snapshots uint64
	Files     uint64
	Blobs     uint64
	Bytes     uint64
}

// State returns the current values.
func (p *Progress) State() ProgressState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProgressState{Snapshots: p.snapshot, Files: p.files, Blobs: p.blobs, Bytes: p.bytes}
}

func (p *Progress) startSnapshot() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.snapshot++
	p.files, p.blobs, p.bytes = 0, 0, 0
	p.mu.Unlock()
}

func (p *Progress) add(files, blobs, bytes uint64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.files += files
	p.blobs += blobs
	p.bytes += bytes
	p.mu.Unlock()
}

// Options tune a Counter.
type Options struct {
	Mode Mode
	// RepoVersion is the repository format version; uncompressed sizes
	// are computed for version 2 and later.
	RepoVersion int
	// Progress, when set, is updated while counting.
	Progress *Progress
}

// cryptoOverhead is what encryption adds to a blob: IV and MAC.
const cryptoOverhead = 32

// maxPrefetch bounds the subtrees of one directory loaded ahead.
const maxPrefetch = 16

// treeSum is what walking a tree once gave, for reusing it.
type treeSum struct {
	nodes   uint64 // items below the tree
	sizeSum uint64 // sum of their sizes
	restore uint64 // restore-size bytes, valid when linkFree
	// linkFree means no item below is a hard-linked non-directory, so the
	// restore size does not depend on the snapshot's other items.
	linkFree bool
}

// fileKey identifies content: the hash of the data blob ID sequence.
type fileKey [32]byte

// Counter accumulates statistics over snapshots. It is not safe for
// concurrent use.
type Counter struct {
	src  Source
	opts Options
	res  Result

	memo map[model.ID]treeSum

	// files-by-contents, blobs-per-file
	uniqueFiles map[fileKey]struct{}
	fileBlobs   map[string]model.IDSet

	// restore-size: hard links seen in the current snapshot
	links map[[2]uint64]struct{}

	// raw-data
	blobs map[model.BlobHandle]struct{}

	prefetch func(ids ...model.ID)
}

// NewCounter returns a counter for opts.Mode (restore-size when empty).
func NewCounter(src Source, opts Options) (*Counter, error) {
	if opts.Mode == "" {
		opts.Mode = RestoreSize
	}
	if _, err := ParseMode(string(opts.Mode)); err != nil {
		return nil, err
	}
	return &Counter{
		src:         src,
		opts:        opts,
		memo:        map[model.ID]treeSum{},
		uniqueFiles: map[fileKey]struct{}{},
		fileBlobs:   map[string]model.IDSet{},
		blobs:       map[model.BlobHandle]struct{}{},
	}, nil
}

// AddSnapshot counts the snapshot whose root tree is root.
func (c *Counter) AddSnapshot(ctx context.Context, root model.ID) error {
	c.opts.Progress.startSnapshot()
	c.res.SnapshotsCount++

	c.prefetch = func(...model.ID) {}
	if p, ok := c.src.(Prefetcher); ok {
		pctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		c.prefetch = func(ids ...model.ID) { p.Prefetch(pctx, &wg, ids...) }
	}

	if c.opts.Mode == RawData {
		return c.collectBlobs(ctx, root)
	}
	c.links = map[[2]uint64]struct{}{}
	if _, err := c.walk(ctx, root, "/"); err != nil {
		return fmt.Errorf("walking tree %s: %w", root, err)
	}
	return nil
}

// walk visits the items of tree id (at path p) depth first, in name order.
func (c *Counter) walk(ctx context.Context, id model.ID, p string) (treeSum, error) {
	if m, ok := c.memo[id]; ok && (c.opts.Mode != RestoreSize || m.linkFree) {
		// Every item below was seen before: only restore-size counts again.
		if c.opts.Mode == RestoreSize {
			c.res.TotalFileCount += m.nodes
			c.res.TotalSize += m.restore
		}
		c.opts.Progress.add(m.nodes, 0, m.sizeSum)
		return m, nil
	}
	if err := ctx.Err(); err != nil {
		return treeSum{}, err
	}
	t, err := c.src.LoadTree(ctx, id)
	if err != nil {
		return treeSum{}, err
	}
	c.prefetchSubtrees(t)
	sum := treeSum{linkFree: true}
	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return treeSum{}, err
		}
		if n.Type == "" {
			return treeSum{}, fmt.Errorf("node type is empty for node %q", n.Name)
		}
		np := path.Join(p, n.Name)
		if err := c.visit(id, np, n); err != nil {
			return treeSum{}, err
		}
		sum.nodes++
		sum.sizeSum += n.Size
		if n.Links == 1 || n.Type == model.NodeTypeDir {
			sum.restore += n.Size
		} else {
			sum.linkFree = false
		}
		if n.Type != model.NodeTypeDir {
			continue
		}
		if n.Subtree == nil {
			return treeSum{}, fmt.Errorf("subtree for node %v in tree %v is nil", n.Name, np)
		}
		sub, err := c.walk(ctx, *n.Subtree, np)
		if err != nil {
			return treeSum{}, err
		}
		sum.nodes += sub.nodes
		sum.sizeSum += sub.sizeSum
		sum.restore += sub.restore
		sum.linkFree = sum.linkFree && sub.linkFree
	}
	c.memo[id] = sum
	return sum, nil
}

// prefetchSubtrees starts loading subtrees the walk will need.
func (c *Counter) prefetchSubtrees(t *model.Tree) {
	var ids []model.ID
	for _, n := range t.Nodes {
		if len(ids) == maxPrefetch {
			break
		}
		if n.Type != model.NodeTypeDir || n.Subtree == nil {
			continue
		}
		if c.opts.Mode == RawData {
			if _, ok := c.blobs[model.BlobHandle{ID: *n.Subtree, Type: model.TreeBlob}]; ok {
				continue
			}
		} else if m, ok := c.memo[*n.Subtree]; ok && (c.opts.Mode != RestoreSize || m.linkFree) {
			continue
		}
		ids = append(ids, *n.Subtree)
	}
	if len(ids) > 0 {
		c.prefetch(ids...)
	}
}

// visit counts one item at path np in tree parent.
func (c *Counter) visit(parent model.ID, np string, n *model.Node) error {
	c.opts.Progress.add(1, 0, n.Size)
	switch c.opts.Mode {
	case RestoreSize:
		c.res.TotalFileCount++
		if n.Links == 1 || n.Type == model.NodeTypeDir {
			c.res.TotalSize += n.Size
			return nil
		}
		k := [2]uint64{n.Inode, n.DeviceID}
		if _, seen := c.links[k]; !seen || n.Inode == 0 {
			c.links[k] = struct{}{}
			c.res.TotalSize += n.Size
		}
		return nil
	case FilesByContents, BlobsPerFile:
		key := contentKey(n.Content)
		if _, seen := c.uniqueFiles[key]; seen {
			return nil
		}
		c.uniqueFiles[key] = struct{}{}
		if c.opts.Mode == FilesByContents {
			c.res.TotalSize += n.Size
			c.res.TotalFileCount++
			return nil
		}
		for _, b := range n.Content {
			c.opts.Progress.add(0, 1, 0)
			set, ok := c.fileBlobs[np]
			if !ok {
				set = model.IDSet{}
				c.fileBlobs[np] = set
				c.res.TotalFileCount++
			}
			if set.Has(b) {
				continue
			}
			pbs := c.src.LookupBlob(model.BlobHandle{ID: b, Type: model.DataBlob})
			if len(pbs) == 0 {
				return fmt.Errorf("blob %s not found for tree %s", b, parent)
			}
			c.res.TotalSize += uint64(pbs[0].DataLength())
			set.Insert(b)
			c.res.TotalBlobCount++
		}
	}
	return nil
}

// collectBlobs adds the tree blobs and file data blobs below root to the
// raw-data set, skipping trees already collected.
func (c *Counter) collectBlobs(ctx context.Context, id model.ID) error {
	h := model.BlobHandle{ID: id, Type: model.TreeBlob}
	if _, ok := c.blobs[h]; ok {
		return nil
	}
	c.blobs[h] = struct{}{}
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := c.src.LoadTree(ctx, id)
	if err != nil {
		return err
	}
	c.prefetchSubtrees(t)
	for _, n := range t.Nodes {
		switch n.Type {
		case model.NodeTypeFile:
			for _, b := range n.Content {
				c.blobs[model.BlobHandle{ID: b, Type: model.DataBlob}] = struct{}{}
			}
		case model.NodeTypeDir:
			if n.Subtree != nil {
				if err := c.collectBlobs(ctx, *n.Subtree); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Result returns the totals of the snapshots added so far. In raw-data
// mode it sizes the collected blobs, which fails for a blob the index
// does not know.
func (c *Counter) Result() (Result, error) {
	res := c.res
	if c.opts.Mode != RawData {
		return res, nil
	}
	var compressed, compressedPlain uint64
	for h := range c.blobs {
		pbs := c.src.LookupBlob(h)
		if len(pbs) == 0 {
			return Result{}, fmt.Errorf("blob %v not found", h)
		}
		b := pbs[0]
		res.TotalSize += uint64(b.Length)
		if c.opts.RepoVersion >= 2 {
			plain := uint64(b.DataLength()) + cryptoOverhead
			res.TotalUncompressedSize += plain
			if b.IsCompressed() {
				compressed += uint64(b.Length)
				compressedPlain += plain
			}
		}
		res.TotalBlobCount++
		c.opts.Progress.add(0, 1, uint64(b.Length))
	}
	if compressed > 0 {
		res.CompressionRatio = float64(compressedPlain) / float64(compressed)
	}
	if res.TotalUncompressedSize > 0 {
		res.CompressionProgress = float64(compressedPlain) / float64(res.TotalUncompressedSize) * 100
		res.CompressionSpaceSaving = (1 - float64(res.TotalSize)/float64(res.TotalUncompressedSize)) * 100
	}
	return res, nil
}
