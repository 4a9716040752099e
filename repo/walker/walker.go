// Package walker walks the trees of a snapshot depth first, in the order
// the nodes are stored (sorted by name), calling a visitor for every node.
// The visitor can skip a directory's subtree or the rest of a directory.
// As in restic, a directory is visited once its tree has loaded: one whose
// tree does not load is reported as an error instead.
//
// Walking is sequential from the visitor's point of view, but trees are
// loaded ahead of it: when the walk enters a directory, the subtrees of the
// next few subdirectories are loaded in the background, and every loaded
// tree goes through a TreeLoader's bounded LRU cache, so a tree that occurs
// more than once (in one snapshot or across snapshots walked with the same
// Walker) is loaded once.
package walker

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// ErrSkipNode, returned by Visitor.Node for a directory, means its subtree
// is not walked; returned for any other node, it skips the remaining nodes
// of the directory that holds it.
var ErrSkipNode = errors.New("skip node")

// DefaultPrefetch is how many subdirectories ahead the walk loads trees.
const DefaultPrefetch = 8

// Visitor receives the walk's events.
type Visitor struct {
	// Node is called first for the root with node == nil and path "/"
	// (returning ErrSkipNode then ends the walk at once), then for every
	// node in depth-first order; a directory once its tree has loaded.
	// parent is the ID of the tree holding the node (for the root: the
	// root tree's ID); path is slash-separated and starts with "/" (e.g.
	// "/dir/file"). Errors other than ErrSkipNode end the walk and are
	// returned by Walk. Required.
	Node func(parent model.ID, path string, node *model.Node) error
	// TreeError is called when a tree cannot be loaded: the root (node nil,
	// path "/") or the subtree of directory node at path, which Node then
	// does not see. Returning nil or ErrSkipNode skips that tree and goes
	// on; other errors end the walk. When TreeError is nil, the walk ends
	// with the load error.
	TreeError func(parent model.ID, path string, node *model.Node, err error) error
	// Enter, when set, is asked about a directory before its tree is
	// loaded: false passes the directory by, with neither its tree loaded
	// nor Node called, as if Node had skipped it unseen.
	Enter func(path string, node *model.Node) bool
	// LeaveDir, when set, is called after the nodes of a walked directory,
	// including the root ("/"), have been visited.
	LeaveDir func(path string) error
}

// Options tune a Walker.
type Options struct {
	// Prefetch is how many subdirectories ahead trees are loaded in the
	// background (0: DefaultPrefetch, negative: none).
	Prefetch int
	// Loader lets several walkers share one tree cache (nil: a new loader
	// with default options).
	Loader *TreeLoader
}

// Walker walks trees; it keeps its TreeLoader's cache between walks. It is
// safe for concurrent use.
type Walker struct {
	trees    *TreeLoader
	prefetch int
}

// New returns a walker loading trees through bl (or opts.Loader).
func New(bl BlobLoader, opts Options) *Walker {
	if opts.Loader == nil {
		opts.Loader = NewTreeLoader(bl, LoaderOptions{})
	}
	switch {
	case opts.Prefetch == 0:
		opts.Prefetch = DefaultPrefetch
	case opts.Prefetch < 0:
		opts.Prefetch = 0
	}
	return &Walker{trees: opts.Loader, prefetch: opts.Prefetch}
}

// Trees returns the walker's tree loader.
func (w *Walker) Trees() *TreeLoader { return w.trees }

// Walk walks the tree root with a new Walker; see Walker.Walk.
func Walk(ctx context.Context, bl BlobLoader, root model.ID, v Visitor) error {
	return New(bl, Options{}).Walk(ctx, root, v)
}

// Walk visits root and every node below it. It returns the first error of
// the visitor or of loading a tree that the visitor did not handle.
func (w *Walker) Walk(ctx context.Context, root model.ID, v Visitor) error {
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	st := &walkState{w: w, v: v, ctx: ctx, pctx: pctx, wg: &wg}

	if err := v.Node(root, "/", nil); err != nil {
		if errors.Is(err, ErrSkipNode) {
			return nil
		}
		return err
	}
	tree, err := w.trees.Load(ctx, root)
	if err != nil {
		return st.treeError(root, "/", nil, err)
	}
	return st.walk("/", root, tree)
}

type walkState struct {
	w    *Walker
	v    Visitor
	ctx  context.Context
	pctx context.Context // background loads
	wg   *sync.WaitGroup
}

func (s *walkState) treeError(parent model.ID, p string, node *model.Node, err error) error {
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.v.TreeError == nil {
		return err
	}
	if herr := s.v.TreeError(parent, p, node, err); herr != nil && !errors.Is(herr, ErrSkipNode) {
		return herr
	}
	return nil
}

// walk visits the nodes of tree (whose ID is id) found at prefix.
func (s *walkState) walk(prefix string, id model.ID, tree *model.Tree) error {
	// positions of the subdirectories, for loading their trees ahead
	var dirs []model.ID
	if s.w.prefetch > 0 {
		for _, n := range tree.Nodes {
			if n.Type == model.NodeTypeDir && n.Subtree != nil {
				dirs = append(dirs, *n.Subtree)
			}
		}
		s.w.trees.Prefetch(s.pctx, s.wg, dirs[:min(len(dirs), s.w.prefetch)]...)
	}
	dirIndex := 0

	for _, node := range tree.Nodes {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		p := path.Join(prefix, node.Name)
		if node.Type == "" {
			return fmt.Errorf("node type is empty for node %q", node.Name)
		}
		if node.Type != model.NodeTypeDir {
			if err := s.v.Node(id, p, node); err != nil {
				if errors.Is(err, ErrSkipNode) {
					break
				}
				return err
			}
			continue
		}
		if node.Subtree == nil {
			return fmt.Errorf("subtree for node %v in tree %v is nil", node.Name, p)
		}
		if s.w.prefetch > 0 {
			if next := dirIndex + s.w.prefetch; next < len(dirs) {
				s.w.trees.Prefetch(s.pctx, s.wg, dirs[next])
			}
			dirIndex++
		}
		if s.v.Enter != nil && !s.v.Enter(p, node) {
			continue
		}
		sub, err := s.w.trees.Load(s.ctx, *node.Subtree)
		if err != nil {
			if err := s.treeError(id, p, node, err); err != nil {
				return err
			}
			continue
		}
		if err := s.v.Node(id, p, node); err != nil {
			if errors.Is(err, ErrSkipNode) {
				continue
			}
			return err
		}
		if err := s.walk(p, *node.Subtree, sub); err != nil {
			return err
		}
	}
	if s.v.LeaveDir != nil {
		return s.v.LeaveDir(prefix)
	}
	return nil
}
