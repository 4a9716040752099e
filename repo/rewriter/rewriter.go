// Package rewriter rewrites the trees of a snapshot: it walks a tree depth
// first, lets a node function keep, change or drop every node, and stores
// the trees that changed. Unchanged trees encode to the same bytes and so
// keep their IDs; a changed tree gets the ID restic would give it, because
// trees are encoded exactly as restic encodes them.
//
// The same walk serves `rewrite` (drop nodes by name, count what is left)
// and `repair snapshots` (drop missing file content, replace unreadable
// trees by empty ones); the node functions for both live here as well, and
// Replace turns a rewritten tree into a new snapshot as restic does.
package rewriter

import (
	"context"
	"fmt"
	"path"

	"github.com/arca-backup/arca/repo/model"
	"github.com/arca-backup/arca/repo/walker"
)

// BlobLoader loads blobs; *repo.Repository is one.
type BlobLoader interface {
	LoadBlob(ctx context.Context, t model.BlobType, id model.ID, buf []byte) ([]byte, error)
}

// BlobSaver stores blobs; *repo.Writer is one, HashOnly another.
type BlobSaver interface {
	SaveBlob(ctx context.Context, t model.BlobType, buf []byte, id model.ID) (model.ID, bool, int, error)
}

// HashOnly is a BlobSaver that stores nothing and only computes blob IDs
// (for dry runs).
type HashOnly struct{}

// SaveBlob returns the blob's ID.
func (HashOnly) SaveBlob(_ context.Context, _ model.BlobType, buf []byte, id model.ID) (model.ID, bool, int, error) {
	if id.IsNull() {
		id = model.Hash(buf)
	}
	return id, false, 0, nil
}

// NodeFunc returns the node to store at path (it may change node), or nil
// to drop it. Directory nodes are passed before their subtree is rewritten.
type NodeFunc func(node *model.Node, path string) *model.Node

// KeepEmptyFunc reports whether a directory at path that ends up empty is
// kept.
type KeepEmptyFunc func(path string) bool

// FailedTreeFunc decides what happens to a tree that cannot be loaded:
// return keep=true and the nodes of a replacement tree (may be none), or
// keep=false to drop the directory, or an error to stop.
type FailedTreeFunc func(id model.ID, path string, loadErr error) (nodes []*model.Node, keep bool, err error)

// Options configure a Rewriter. Nil functions keep every node, keep empty
// directories and fail on unreadable trees.
type Options struct {
	RewriteNode        NodeFunc
	KeepEmptyDirectory KeepEmptyFunc
	RewriteFailedTree  FailedTreeFunc
	// AllowUnstableSerialization skips the check that every tree read
	// encodes back to its own ID (a tree with fields arca does not know
	// would otherwise lose them silently).
	AllowUnstableSerialization bool
	// DisableCache rewrites every occurrence of a tree again instead of
	// reusing the first result; needed when the node function has to see
	// every node (counting, messages per path).
	DisableCache bool
}

// Rewriter rewrites trees. It is not safe for concurrent use.
type Rewriter struct {
	opts     Options
	replaced map[model.ID]model.ID // old tree ID -> new tree ID
}

// New returns a Rewriter.
func New(opts Options) *Rewriter {
	if opts.RewriteNode == nil {
		opts.RewriteNode = func(n *model.Node, _ string) *model.Node { return n }
	}
	if opts.KeepEmptyDirectory == nil {
		opts.KeepEmptyDirectory = func(string) bool { return true }
	}
	if opts.RewriteFailedTree == nil {
		opts.RewriteFailedTree = func(_ model.ID, _ string, err error) ([]*model.Node, bool, error) {
			return nil, false, err
		}
	}
	rw := &Rewriter{opts: opts}
	if !opts.DisableCache {
		rw.replaced = make(map[model.ID]model.ID)
	}
	return rw
}

// Size is what a rewritten snapshot holds: files and their bytes.
type Size struct {
	Files uint
	Bytes uint64
}

// NewCounting returns a Rewriter that counts the files it keeps (restic's
// summary for rewritten snapshots) and a function that reports the count.
func NewCounting(rewriteNode NodeFunc, keepEmpty KeepEmptyFunc) (*Rewriter, func() Size) {
	var size Size
	if rewriteNode == nil {
		rewriteNode = func(n *model.Node, _ string) *model.Node { return n }
	}
	rw := New(Options{
		RewriteNode: func(n *model.Node, p string) *model.Node {
			n = rewriteNode(n, p)
			if n != nil && n.Type == model.NodeTypeFile {
				size.Files++
				size.Bytes += n.Size
			}
			return n
		},
		KeepEmptyDirectory: keepEmpty,
		DisableCache:       true,
	})
	return rw, func() Size { return size }
}

// RewriteTree rewrites the tree id found at nodepath ("/" for a
// snapshot's root) and returns the new tree's ID, or the null ID when the
// tree is dropped. New trees are stored with saver.
func (rw *Rewriter) RewriteTree(ctx context.Context, loader BlobLoader, saver BlobSaver, nodepath string, id model.ID) (model.ID, error) {
	if newID, ok := rw.replaced[id]; ok {
		return newID, nil
	}
	tree, err := loadTree(ctx, loader, id)
	if err != nil {
		nodes, keep, err := rw.opts.RewriteFailedTree(id, nodepath, err)
		if err != nil || !keep {
			return model.ID{}, err
		}
		return saveTree(ctx, saver, nodes)
	}
	if !rw.opts.AllowUnstableSerialization {
		buf, err := model.EncodeTree(tree.Nodes)
		if err != nil {
			return model.ID{}, fmt.Errorf("tree at %q: %w", nodepath, err)
		}
		if model.Hash(buf) != id {
			return model.ID{}, fmt.Errorf("cannot encode tree at %q without losing information", nodepath)
		}
	}

	kept := make([]*model.Node, 0, len(tree.Nodes))
	for _, node := range tree.Nodes {
		if err := ctx.Err(); err != nil {
			return model.ID{}, err
		}
		p := path.Join(nodepath, node.Name)
		node = rw.opts.RewriteNode(node, p)
		if node == nil {
			continue
		}
		if node.Type == model.NodeTypeDir {
			var sub model.ID // a missing subtree is the null ID, which fails to load
			if node.Subtree != nil {
				sub = *node.Subtree
			}
			newSub, err := rw.RewriteTree(ctx, loader, saver, p, sub)
			if err != nil {
				return model.ID{}, err
			}
			if newSub.IsNull() {
				continue
			}
			node.Subtree = &newSub
		}
		kept = append(kept, node)
	}

	// restic stores the new tree even when it then drops it as empty
	newID, err := saveTree(ctx, saver, kept)
	if err != nil {
		return model.ID{}, err
	}
	if len(kept) == 0 && !rw.opts.KeepEmptyDirectory(nodepath) {
		return model.ID{}, nil
	}
	if rw.replaced != nil {
		rw.replaced[id] = newID
	}
	return newID, nil
}

func loadTree(ctx context.Context, loader BlobLoader, id model.ID) (*model.Tree, error) {
	return walker.LoadTree(ctx, loader, id)
}

func saveTree(ctx context.Context, saver BlobSaver, nodes []*model.Node) (model.ID, error) {
	buf, err := model.EncodeTree(nodes)
	if err != nil {
		return model.ID{}, err
	}
	id, _, _, err := saver.SaveBlob(ctx, model.TreeBlob, buf, model.Hash(buf))
	if err != nil {
		return model.ID{}, fmt.Errorf("save tree: %w", err)
	}
	return id, nil
}
