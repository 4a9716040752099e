// Package diff compares the trees of two snapshots as restic's diff
// command does: both trees are walked side by side in name order, every
// added, removed, changed or (optionally) metadata-only changed item is
// reported through a callback, and the blobs referenced only before or
// only after are counted and sized. Identical subtrees are not compared
// item by item; their blobs are collected so that a blob that is still
// referenced somewhere is never counted as added or removed.
package diff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// Source is what a comparison reads: trees, and blob sizes from the index.
type Source interface {
	LoadTree(ctx context.Context, id model.ID) (*model.Tree, error)
	// BlobSize returns the plaintext size of a blob, false when the index
	// does not know it.
	BlobSize(h model.BlobHandle) (uint, bool)
}

// Prefetcher is implemented by sources that can load trees in the
// background ahead of use (walker.TreeLoader does).
type Prefetcher interface {
	Prefetch(ctx context.Context, wg *sync.WaitGroup, ids ...model.ID)
}

// maxPrefetch bounds the subtrees of one directory loaded ahead.
const maxPrefetch = 16

// Modifiers used in Change.Modifier. A change between two items of the
// same path is a combination: "T" (type changed), "M" (file content
// changed), "M?" (content changed but all metadata the same: bit rot),
// "U" (metadata only, with Options.Metadata), e.g. "TU".
const (
	Added   = "+"
	Removed = "-"
)

// Change is one reported item. Path starts with "/"; directories end with "/".
type Change struct {
	Path     string
	Modifier string
}

// Stat counts items and the blobs only one side references.
type Stat struct {
	Files     int
	Dirs      int
	Others    int
	DataBlobs int
	TreeBlobs int
	Bytes     uint64
}

// Result is the outcome of a comparison.
type Result struct {
	// ChangedFiles counts files present on both sides whose content differs.
	ChangedFiles int
	Added        Stat
	Removed      Stat
}

// Options tune a comparison.
type Options struct {
	// Metadata reports items whose metadata changed ("U").
	Metadata bool
	// OnChange receives every change in the order restic prints them.
	OnChange func(Change)
	// OnError receives errors that do not stop the comparison: a subtree
	// that cannot be read (that part is skipped) and blobs missing from the
	// index. When nil, they are ignored.
	OnError func(error)
}

// ErrBlobSizeUnknown is reported (through Options.OnError) for a blob the
// index does not know.
var ErrBlobSizeUnknown = errors.New("unable to find blob size")

type blobSet map[model.BlobHandle]struct{}

func (s blobSet) insert(h model.BlobHandle) { s[h] = struct{}{} }

type comparer struct {
	src    Source
	opts   Options
	res    Result
	before blobSet // blobs referenced by the first tree
	after  blobSet // blobs referenced by the second tree
	common blobSet // blobs below subtrees identical on both sides
	// collected holds the identical subtrees already added to common.
	collected map[model.ID]struct{}

	prefetch func(ids ...model.ID)
}

// Trees compares the tree tree1 (before) with tree2 (after). It returns an
// error only when one of the two root trees cannot be loaded or ctx ends.
func Trees(ctx context.Context, src Source, tree1, tree2 model.ID, opts Options) (Result, error) {
	c := &comparer{
		src:       src,
		opts:      opts,
		before:    blobSet{},
		after:     blobSet{},
		common:    blobSet{},
		collected: map[model.ID]struct{}{},
	}
	c.prefetch = func(...model.ID) {}
	if p, ok := src.(Prefetcher); ok {
		pctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		c.prefetch = func(ids ...model.ID) { p.Prefetch(pctx, &wg, ids...) }
	}
	c.before.insert(model.BlobHandle{ID: tree1, Type: model.TreeBlob})
	c.after.insert(model.BlobHandle{ID: tree2, Type: model.TreeBlob})
	if err := c.diffTree(ctx, "/", tree1, tree2); err != nil {
		return Result{}, err
	}
	c.count(c.before, c.after, &c.res.Removed)
	c.count(c.after, c.before, &c.res.Added)
	return c.res, nil
}

// count adds to st the blobs of s that are neither in other nor common.
func (c *comparer) count(s, other blobSet, st *Stat) {
	for h := range s {
		if _, ok := other[h]; ok {
			continue
		}
		if _, ok := c.common[h]; ok {
			continue
		}
		switch h.Type {
		case model.DataBlob:
			st.DataBlobs++
		case model.TreeBlob:
			st.TreeBlobs++
		}
		size, ok := c.src.BlobSize(h)
		if !ok {
			c.report(fmt.Errorf("%w for %v", ErrBlobSizeUnknown, h))
			continue
		}
		st.Bytes += uint64(size)
	}
}

func (c *comparer) report(err error) {
	if c.opts.OnError != nil {
		c.opts.OnError(err)
	}
}

func (c *comparer) change(p, mod string) {
	if c.opts.OnChange != nil {
		c.opts.OnChange(Change{Path: p, Modifier: mod})
	}
}

// subtreeError reports a failed subtree unless the comparison was cancelled.
func (c *comparer) subtreeError(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		c.report(err)
	}
}

func (s *Stat) add(n *model.Node) {
	switch n.Type {
	case model.NodeTypeFile:
		s.Files++
	case model.NodeTypeDir:
		s.Dirs++
	default:
		s.Others++
	}
}

// addBlobs records the blobs a node references itself: its content for a
// file, its subtree for a directory.
func addBlobs(s blobSet, n *model.Node) {
	if n == nil {
		return
	}
	switch n.Type {
	case model.NodeTypeFile:
		for _, id := range n.Content {
			s.insert(model.BlobHandle{ID: id, Type: model.DataBlob})
		}
	case model.NodeTypeDir:
		if n.Subtree != nil {
			s.insert(model.BlobHandle{ID: *n.Subtree, Type: model.TreeBlob})
		}
	}
}

func (c *comparer) load(ctx context.Context, id model.ID) (*model.Tree, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.src.LoadTree(ctx, id)
}

// diffTree compares two trees found at prefix.
func (c *comparer) diffTree(ctx context.Context, prefix string, id1, id2 model.ID) error {
	t1, err := c.load(ctx, id1)
	if err != nil {
		return err
	}
	t2, err := c.load(ctx, id2)
	if err != nil {
		return err
	}
	a, b := t1.Nodes, t2.Nodes
	c.prefetchChanged(a, b)
	for len(a) > 0 || len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		var n1, n2 *model.Node
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0].Name < b[0].Name):
			n1, a = a[0], a[1:]
		case len(a) == 0 || a[0].Name > b[0].Name:
			n2, b = b[0], b[1:]
		default:
			n1, n2, a, b = a[0], b[0], a[1:], b[1:]
		}
		addBlobs(c.before, n1)
		addBlobs(c.after, n2)
		switch {
		case n1 != nil && n2 != nil:
			c.diffNode(ctx, prefix, n1, n2)
		case n1 != nil:
			c.onlyOneSide(ctx, prefix, n1, Removed, &c.res.Removed, c.before)
		default:
			c.onlyOneSide(ctx, prefix, n2, Added, &c.res.Added, c.after)
		}
	}
	return ctx.Err()
}

func (c *comparer) diffNode(ctx context.Context, prefix string, n1, n2 *model.Node) {
	name := path.Join(prefix, n1.Name)
	if n2.Type == model.NodeTypeDir {
		name += "/"
	}
	mod := ""
	if n1.Type != n2.Type {
		mod += "T"
	}
	if n1.Type == model.NodeTypeFile && n2.Type == model.NodeTypeFile && !sameContentStrict(n1.Content, n2.Content) {
		mod += "M"
		c.res.ChangedFiles++
		x, y := *n1, *n2
		x.Content, y.Content = nil, nil
		if nodesEqual(&x, &y) {
			mod += "?"
		}
	} else if c.opts.Metadata && !nodesEqual(n1, n2) {
		mod += "U"
	}
	if mod != "" {
		c.change(name, mod)
	}
	if n1.Type == model.NodeTypeDir && n2.Type == model.NodeTypeDir && n1.Subtree != nil && n2.Subtree != nil {
		if *n1.Subtree == *n2.Subtree {
			c.subtreeError(c.collect(ctx, *n1.Subtree))
		} else {
			c.subtreeError(c.diffTree(ctx, name, *n1.Subtree, *n2.Subtree))
		}
	}
}

// prefetchChanged starts loading the subtrees that the comparison of two
// directories will visit: those of directories whose subtree changed, and
// those only one side has.
func (c *comparer) prefetchChanged(a, b []*model.Node) {
	var ids []model.ID
	subtree := func(n *model.Node) {
		if n.Type == model.NodeTypeDir && n.Subtree != nil && len(ids) < maxPrefetch {
			ids = append(ids, *n.Subtree)
		}
	}
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0].Name < b[0].Name):
			subtree(a[0])
			a = a[1:]
		case len(a) == 0 || a[0].Name > b[0].Name:
			subtree(b[0])
			b = b[1:]
		default:
			x, y := a[0], b[0]
			if x.Subtree == nil || y.Subtree == nil || *x.Subtree != *y.Subtree {
				subtree(x)
				subtree(y)
			}
			a, b = a[1:], b[1:]
		}
	}
	if len(ids) > 0 {
		c.prefetch(ids...)
	}
}

// onlyOneSide reports an item (and, for a directory, everything below
// it) that exists only before (mod "-") or only after ("+").
func (c *comparer) onlyOneSide(ctx context.Context, prefix string, n *model.Node, mod string, st *Stat, blobs blobSet) {
	name := path.Join(prefix, n.Name)
	if n.Type == model.NodeTypeDir {
		name += "/"
	}
	c.change(name, mod)
	st.add(n)
	if n.Type == model.NodeTypeDir && n.Subtree != nil {
		c.subtreeError(c.listDir(ctx, name, *n.Subtree, mod, st, blobs))
	}
}

// listDir reports every item below a directory that exists on one side only.
func (c *comparer) listDir(ctx context.Context, prefix string, id model.ID, mod string, st *Stat, blobs blobSet) error {
	t, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := path.Join(prefix, n.Name)
		if n.Type == model.NodeTypeDir {
			name += "/"
		}
		c.change(name, mod)
		st.add(n)
		addBlobs(blobs, n)
		if n.Type == model.NodeTypeDir && n.Subtree != nil {
			c.subtreeError(c.listDir(ctx, name, *n.Subtree, mod, st, blobs))
		}
	}
	return ctx.Err()
}

// collect adds every blob below an identical subtree to the common set.
// A subtree already collected adds nothing new and is skipped.
func (c *comparer) collect(ctx context.Context, id model.ID) error {
	if _, ok := c.collected[id]; ok {
		return nil
	}
	t, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		addBlobs(c.common, n)
		if n.Type == model.NodeTypeDir && n.Subtree != nil {
			c.subtreeError(c.collect(ctx, *n.Subtree))
		}
	}
	c.collected[id] = struct{}{}
	return ctx.Err()
}

// sameContentStrict compares content lists as restic's diff does: a nil
// list differs from an empty one.
func sameContentStrict(a, b model.IDs) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nodesEqual reports whether two nodes are equal in every stored field
// (times compared as instants, extended attributes as sets).
func nodesEqual(a, b *model.Node) bool {
	switch {
	case a.Name != b.Name, a.Type != b.Type, a.Mode != b.Mode,
		!a.ModTime.Equal(b.ModTime), !a.AccessTime.Equal(b.AccessTime), !a.ChangeTime.Equal(b.ChangeTime),
		a.UID != b.UID, a.GID != b.GID, a.User != b.User, a.Group != b.Group,
		a.Inode != b.Inode, a.DeviceID != b.DeviceID, a.Size != b.Size, a.Links != b.Links,
		a.LinkTarget != b.LinkTarget, a.Device != b.Device, a.Error != b.Error:
		return false
	}
	if !sameContentStrict(a.Content, b.Content) || !sameXattrs(a.ExtendedAttributes, b.ExtendedAttributes) {
		return false
	}
	if len(a.GenericAttributes) != len(b.GenericAttributes) {
		return false
	}
	for k, v := range a.GenericAttributes {
		w, ok := b.GenericAttributes[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	if (a.Subtree == nil) != (b.Subtree == nil) {
		return false
	}
	return a.Subtree == nil || *a.Subtree == *b.Subtree
}

// sameXattrs compares extended attributes by name and value, ignoring order.
func sameXattrs(a, b []model.ExtendedAttribute) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	m := make(map[string][]byte, len(a))
	for _, x := range a {
		m[x.Name] = x.Value
	}
	seen := make(map[string]bool, len(a))
	for _, x := range b {
		v, ok := m[x.Name]
		if !ok || !bytes.Equal(v, x.Value) {
			return false
		}
		seen[x.Name] = true
	}
	return len(seen) == len(m)
}
