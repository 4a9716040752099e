package archiver

import (
	"context"
	"runtime"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// treePrefetch loads the parent snapshot's subtrees ahead of the walk.
// When the walk enters a directory, the subtrees of the parent's entries
// of that directory start loading in the background (a bounded number at
// once), so that the walk, which goes depth-first through one directory
// after the other, finds them loaded instead of waiting for each in turn.
// A subtree is handed out once; subtrees the walk does not ask for (the
// directory is gone or excluded) are dropped when the directory is done.
type treePrefetch struct {
	load func(ctx context.Context, id model.ID) (*model.Tree, error)
	sem  chan struct{}

	mu      sync.Mutex
	pending map[model.ID]*treeLoad
}

type treeLoad struct {
	done chan struct{}
	tree *model.Tree
	err  error
	refs int // entries of directories being walked that name this tree
}

func newTreePrefetch(load func(ctx context.Context, id model.ID) (*model.Tree, error)) *treePrefetch {
	return &treePrefetch{
		load:    load,
		sem:     make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
		pending: make(map[model.ID]*treeLoad),
	}
}

// start begins loading the subtrees named by prev's directory entries and
// returns a function that drops those not taken.
func (p *treePrefetch) start(ctx context.Context, prev *model.Tree) (drop func()) {
	if prev == nil {
		return func() {}
	}
	var ids []model.ID
	p.mu.Lock()
	for _, n := range prev.Nodes {
		if n.Type != model.NodeTypeDir || n.Subtree == nil {
			continue
		}
		id := *n.Subtree
		ids = append(ids, id)
		if l, ok := p.pending[id]; ok {
			l.refs++
			continue
		}
		l := &treeLoad{done: make(chan struct{}), refs: 1}
		p.pending[id] = l
		go func() {
			defer close(l.done)
			select {
			case p.sem <- struct{}{}:
			case <-ctx.Done():
				l.err = ctx.Err()
				return
			}
			defer func() { <-p.sem }()
			l.tree, l.err = p.load(ctx, id)
		}()
	}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, id := range ids {
			p.release(id)
		}
	}
}

// release drops one reference to id's load; mu must be held.
func (p *treePrefetch) release(id model.ID) {
	if l, ok := p.pending[id]; ok {
		if l.refs--; l.refs <= 0 {
			delete(p.pending, id)
		}
	}
}

// get returns the subtree id, waiting for its background load when one
// was started, loading it directly otherwise.
func (p *treePrefetch) get(ctx context.Context, id model.ID) (*model.Tree, error) {
	p.mu.Lock()
	l, ok := p.pending[id]
	p.mu.Unlock()
	if !ok {
		return p.load(ctx, id)
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l.err != nil && ctx.Err() == nil {
		// a failed background load is repeated in the walk, which
		// reports the error as it would without the prefetch
		return p.load(ctx, id)
	}
	return l.tree, l.err
}
