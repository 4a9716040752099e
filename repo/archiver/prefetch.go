package archiver

import (
	"context"
	"runtime"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// treePrefetch loads the parent snapshot's subtrees ahead of the walk.
// When the walk enters a directory, the subtrees of the parent's entries
// of that directory start loading in the background, in name order, which
// is the order the walk asks for them. At most `ahead` of one directory's
// subtrees are loading or loaded and not yet taken, so the walk, which
// goes depth-first through one directory after the other, finds the next
// ones loaded instead of waiting for each in turn, while a wide directory
// does not bring all of its subtrees into memory at once. A subtree is
// handed out once and then forgotten; one the walk passes by (the
// directory is gone or excluded) is dropped when the walk asks for a later
// one, or when the directory is done.
type treePrefetch struct {
	load  func(ctx context.Context, id model.ID) (*model.Tree, error)
	sem   chan struct{} // bounds the loads running at once
	ahead int

	mu      sync.Mutex
	pending map[model.ID]*treeLoad
	dirs    []*dirQueue // directories being walked, innermost last
}

type treeLoad struct {
	done chan struct{}
	tree *model.Tree
	err  error
	dir  *dirQueue
	pos  int // index in dir.ids
}

// dirQueue is the prefetch of one directory's subtrees.
type dirQueue struct {
	ctx  context.Context
	ids  []model.ID // subtrees in walk order
	next int        // ids[next:] have not been started
	low  int        // ids[:low] have been taken or dropped
}

func newTreePrefetch(load func(ctx context.Context, id model.ID) (*model.Tree, error)) *treePrefetch {
	n := 2 * runtime.GOMAXPROCS(0)
	return &treePrefetch{
		load:    load,
		sem:     make(chan struct{}, n),
		ahead:   2 * n,
		pending: make(map[model.ID]*treeLoad),
	}
}

// start begins loading the subtrees named by prev's directory entries and
// returns a function that drops those not taken.
func (p *treePrefetch) start(ctx context.Context, prev *model.Tree) (drop func()) {
	if prev == nil {
		return func() {}
	}
	q := &dirQueue{ctx: ctx}
	for _, n := range prev.Nodes {
		if n.Type == model.NodeTypeDir && n.Subtree != nil {
			q.ids = append(q.ids, *n.Subtree)
		}
	}
	if len(q.ids) == 0 {
		return func() {}
	}
	p.mu.Lock()
	p.dirs = append(p.dirs, q)
	p.fill(q)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.dropBefore(q, len(q.ids))
		q.next = len(q.ids)
		for i, d := range p.dirs {
			if d == q {
				p.dirs = append(p.dirs[:i], p.dirs[i+1:]...)
				break
			}
		}
	}
}

// fill starts loads of q's next subtrees until `ahead` are outstanding;
// mu must be held. A subtree already pending for another directory is
// left to that one.
func (p *treePrefetch) fill(q *dirQueue) {
	for ; q.next < len(q.ids) && q.next-q.low < p.ahead; q.next++ {
		id := q.ids[q.next]
		if _, ok := p.pending[id]; ok {
			continue
		}
		l := &treeLoad{done: make(chan struct{}), dir: q, pos: q.next}
		p.pending[id] = l
		go func() {
			defer close(l.done)
			select {
			case p.sem <- struct{}{}:
			case <-q.ctx.Done():
				l.err = q.ctx.Err()
				return
			}
			defer func() { <-p.sem }()
			l.tree, l.err = p.load(q.ctx, id)
		}()
	}
}

// dropBefore forgets q's loads of ids[low:end] that were not taken; mu
// must be held.
func (p *treePrefetch) dropBefore(q *dirQueue, end int) {
	for ; q.low < end && q.low < q.next; q.low++ {
		if l, ok := p.pending[q.ids[q.low]]; ok && l.dir == q {
			delete(p.pending, q.ids[q.low])
		}
	}
	q.low = max(q.low, end)
}

// take removes id's load from the prefetch and returns it, or nil when none
// was started. Loads of the same directory before it will not be asked
// for any more and are dropped; when id has not been started yet, the
// directory's prefetch moves past it. mu must be held.
func (p *treePrefetch) take(id model.ID) *treeLoad {
	if l, ok := p.pending[id]; ok {
		delete(p.pending, id)
		p.dropBefore(l.dir, l.pos+1)
		p.fill(l.dir)
		return l
	}
	for i := len(p.dirs) - 1; i >= 0; i-- {
		q := p.dirs[i]
		for pos := q.next; pos < len(q.ids); pos++ {
			if q.ids[pos] == id {
				p.dropBefore(q, pos+1)
				q.next = pos + 1
				p.fill(q)
				return nil
			}
		}
	}
	return nil
}

// get returns the subtree id, waiting for its background load when one
// was started, loading it directly otherwise.
func (p *treePrefetch) get(ctx context.Context, id model.ID) (*model.Tree, error) {
	p.mu.Lock()
	l := p.take(id)
	p.mu.Unlock()
	if l == nil {
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
