package dump

import (
	"container/list"
	"context"
	"io"
	"sync"

	"github.com/arca-backup/arca/repo/model"
)

// blobCache keeps recently written blobs (a file often repeats a blob:
// the zero chunks of a sparse file, for one) within a byte budget.
type blobCache struct {
	mu     sync.Mutex
	budget int
	size   int
	lru    list.List // of *blobEntry, most recent first
	items  map[model.ID]*list.Element
}

type blobEntry struct {
	id  model.ID
	buf []byte
}

func newBlobCache(budget int) *blobCache {
	return &blobCache{budget: budget, items: make(map[model.ID]*list.Element)}
}

func (c *blobCache) get(id model.ID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[id]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*blobEntry).buf, true
}

func (c *blobCache) add(id model.ID, buf []byte) {
	if len(buf) > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[id]; ok {
		return
	}
	c.items[id] = c.lru.PushFront(&blobEntry{id: id, buf: buf})
	c.size += len(buf)
	for c.size > c.budget {
		el := c.lru.Back()
		e := el.Value.(*blobEntry)
		c.lru.Remove(el)
		delete(c.items, e.id)
		c.size -= len(e.buf)
	}
}

// pendingBlob is a blob being loaded; done is closed when buf/err are set.
type pendingBlob struct {
	id   model.ID
	done chan struct{}
	buf  []byte
	err  error
}

// writeContent writes the data blobs in order to w. Up to d.workers blobs
// are loaded at once ahead of the writer; a blob that occurs again while it
// is loading or still cached is not loaded twice.
func (d *Dumper) writeContent(ctx context.Context, w io.Writer, content model.IDs) error {
	if len(content) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	queue := make(chan *pendingBlob, d.workers)
	// the producer starts loads; the bounded queue keeps it at most
	// d.workers blobs ahead of the writer
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(queue)
		loading := make(map[model.ID]*pendingBlob)
		for _, id := range content {
			p := loading[id]
			if p == nil {
				p = &pendingBlob{id: id, done: make(chan struct{})}
				if buf, ok := d.cache.get(id); ok {
					p.buf = buf
					close(p.done)
				} else {
					loading[id] = p
					wg.Add(1)
					go func() {
						defer wg.Done()
						p.buf, p.err = d.blobs.LoadBlob(ctx, model.DataBlob, id, nil)
						if p.err == nil {
							d.cache.add(id, p.buf)
						}
						close(p.done)
					}()
				}
			}
			select {
			case queue <- p:
			case <-ctx.Done():
				return
			}
			// forget loads that the writer has taken from the queue, so
			// the map stays as small as the window
			if len(loading) > 2*d.workers {
				for k, v := range loading {
					select {
					case <-v.done:
						delete(loading, k)
					default:
					}
				}
			}
		}
	}()

	for p := range queue {
		select {
		case <-p.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if p.err != nil {
			return p.err
		}
		if _, err := w.Write(p.buf); err != nil {
			return err
		}
	}
	return ctx.Err()
}
