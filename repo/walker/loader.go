package walker

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// BlobLoader loads the plaintext of a blob; *repo.Repository is one.
type BlobLoader interface {
	LoadBlob(ctx context.Context, t model.BlobType, id model.ID, buf []byte) ([]byte, error)
}

// TreeSource is a BlobLoader that loads trees itself, as *repo.Repository
// does: it decodes a large tree as it decompresses it rather than after.
// A TreeLoader on one loads trees through it.
type TreeSource interface {
	BlobLoader
	LoadTree(ctx context.Context, id model.ID) (*model.Tree, error)
}

// DefaultCacheBytes is the default budget of a TreeLoader's cache, counted
// in bytes of tree JSON (as model.EncodedTreeSize estimates them).
const DefaultCacheBytes = 32 << 20

// LoaderOptions tune a TreeLoader.
type LoaderOptions struct {
	// Workers bounds the background (prefetch) loads running at once
	// (0: GOMAXPROCS+2).
	Workers int
	// CacheBytes bounds the cache, in bytes of tree JSON (0:
	// DefaultCacheBytes, negative: no cache).
	CacheBytes int
}

// TreeLoader loads and decodes trees, keeps recently used ones in an LRU
// cache and loads trees in the background on request (Prefetch). Concurrent
// requests for the same tree share one load. It is safe for concurrent use;
// the trees it returns are shared and must not be modified.
type TreeLoader struct {
	blobs  BlobLoader
	sem    chan struct{}
	budget int

	mu       sync.Mutex
	cache    map[model.ID]*list.Element
	lru      list.List // of *cacheEntry, most recently used first
	size     int
	inflight map[model.ID]*loadCall
}

type cacheEntry struct {
	id   model.ID
	tree *model.Tree
	size int
}

// loadCall is one load in progress; done is closed when tree/err are set.
type loadCall struct {
	done chan struct{}
	tree *model.Tree
	size int
	err  error
}

// NewTreeLoader returns a loader reading blobs through bl.
func NewTreeLoader(bl BlobLoader, opts LoaderOptions) *TreeLoader {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0) + 2
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	return &TreeLoader{
		blobs:    bl,
		sem:      make(chan struct{}, opts.Workers),
		budget:   opts.CacheBytes,
		cache:    make(map[model.ID]*list.Element),
		inflight: make(map[model.ID]*loadCall),
	}
}

// Load returns the tree with the given ID, from the cache when it is there.
func (l *TreeLoader) Load(ctx context.Context, id model.ID) (*model.Tree, error) {
	for {
		l.mu.Lock()
		if t := l.cachedLocked(id); t != nil {
			l.mu.Unlock()
			return t, nil
		}
		if c, ok := l.inflight[id]; ok {
			l.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			// a load cancelled by its own caller is retried with ours
			if c.err != nil && isContextErr(c.err) && ctx.Err() == nil {
				continue
			}
			return c.tree, c.err
		}
		c := l.startLocked(id)
		l.mu.Unlock()
		l.run(ctx, id, c)
		return c.tree, c.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Prefetch starts loading the trees in the background unless they are
// cached or already being loaded. Loads stop when ctx is cancelled; wg (if
// not nil) tracks the goroutines so a caller can wait for them.
func (l *TreeLoader) Prefetch(ctx context.Context, wg *sync.WaitGroup, ids ...model.ID) {
	for _, id := range ids {
		l.mu.Lock()
		_, cached := l.cache[id]
		_, loading := l.inflight[id]
		l.mu.Unlock()
		if cached || loading {
			continue
		}
		if wg != nil {
			wg.Add(1)
		}
		go func() {
			if wg != nil {
				defer wg.Done()
			}
			select {
			case l.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-l.sem }()
			l.mu.Lock()
			_, cached := l.cache[id]
			_, loading := l.inflight[id]
			if cached || loading {
				l.mu.Unlock()
				return
			}
			c := l.startLocked(id)
			l.mu.Unlock()
			l.run(ctx, id, c)
		}()
	}
}

func (l *TreeLoader) cachedLocked(id model.ID) *model.Tree {
	el, ok := l.cache[id]
	if !ok {
		return nil
	}
	l.lru.MoveToFront(el)
	return el.Value.(*cacheEntry).tree
}

func (l *TreeLoader) startLocked(id model.ID) *loadCall {
	c := &loadCall{done: make(chan struct{})}
	l.inflight[id] = c
	return c
}

// run performs the load for c and publishes the result.
func (l *TreeLoader) run(ctx context.Context, id model.ID, c *loadCall) {
	c.tree, c.size, c.err = l.load(ctx, id)
	l.mu.Lock()
	delete(l.inflight, id)
	if c.err == nil {
		l.addLocked(id, c.tree, c.size)
	}
	l.mu.Unlock()
	close(c.done)
}

func (l *TreeLoader) load(ctx context.Context, id model.ID) (*model.Tree, int, error) {
	t, err := LoadTree(ctx, l.blobs, id)
	if err != nil {
		return nil, 0, err
	}
	return t, model.EncodedTreeSize(t.Nodes), nil
}

// LoadTree loads and decodes the tree id through bl, with bl's own
// LoadTree when it is a TreeSource.
func LoadTree(ctx context.Context, bl BlobLoader, id model.ID) (*model.Tree, error) {
	if ts, ok := bl.(TreeSource); ok {
		return ts.LoadTree(ctx, id) // its errors name the tree
	}
	buf, err := bl.LoadBlob(ctx, model.TreeBlob, id, nil)
	if err != nil {
		return nil, fmt.Errorf("load tree %s: %w", id.Str(), err)
	}
	t, err := model.DecodeTree(buf)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id.Str(), err)
	}
	return t, nil
}

func (l *TreeLoader) addLocked(id model.ID, t *model.Tree, size int) {
	if l.budget < 0 || size > l.budget {
		return
	}
	if el, ok := l.cache[id]; ok {
		l.lru.MoveToFront(el)
		return
	}
	l.cache[id] = l.lru.PushFront(&cacheEntry{id: id, tree: t, size: size})
	l.size += size
	for l.size > l.budget {
		el := l.lru.Back()
		e := el.Value.(*cacheEntry)
		l.lru.Remove(el)
		delete(l.cache, e.id)
		l.size -= e.size
	}
}
