package cache

import (
	"context"
	"io"
	"sync"

	"github.com/arca-backup/arca/backend"
)

// Backend is a backend.Backend that answers reads of cached files from the
// cache, fills the cache on first use, and keeps it in step with saves,
// removals and listings.
type Backend struct {
	backend.Backend
	c *Cache

	// downloads holds a channel per file being fetched into the cache; it
	// is closed when the download ends, so concurrent readers wait for one
	// download instead of starting their own.
	mu        sync.Mutex
	downloads map[backend.Handle]chan struct{}
}

// Wrap returns be with the cache in front of it.
func (c *Cache) Wrap(be backend.Backend) *Backend {
	return &Backend{Backend: be, c: c, downloads: map[backend.Handle]chan struct{}{}}
}

// Cache returns the cache.
func (b *Backend) Cache() *Cache { return b.c }

// Unwrap returns the backend behind the cache.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// key drops the Metadata mark: it says how to cache a file, not which file.
func key(h backend.Handle) backend.Handle {
	h.Metadata = false
	return h
}

// Save stores the file in the backend and, for cached kinds, in the cache.
// A file that cannot be cached is still saved: the cache only saves time.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := b.Backend.Save(ctx, h, rd); err != nil {
		return err
	}
	if !autoCached(h) {
		return nil
	}
	if err := rd.Rewind(); err != nil {
		return nil
	}
	_ = b.c.store(h, rd)
	return nil
}

// Load reads from the cache when the file is there; a file of a cached kind
// is first downloaded whole into the cache. When the cache fails, Load falls
// back to the backend.
func (b *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	b.waitDownload(h)
	if done, err := b.loadCached(h, length, offset, fn); done {
		return err
	}
	if !autoCached(h) {
		return b.Backend.Load(ctx, h, length, offset, fn)
	}
	if err := b.download(ctx, h); err != nil {
		return err
	}
	if done, err := b.loadCached(h, length, offset, fn); done {
		return err
	}
	return b.Backend.Load(ctx, h, length, offset, fn)
}

// loadCached calls fn with the cached file; done is false when the file is
// not in the cache (or cannot be read from it, and was dropped).
func (b *Backend) loadCached(h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) (done bool, err error) {
	rd, ok, err := b.c.open(h, length, offset)
	if !ok {
		return false, nil
	}
	if err != nil {
		// unreadable or truncated: drop it and read from the backend
		_, _ = b.c.remove(h)
		return false, nil
	}
	err = fn(rd)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	return true, err
}

func (b *Backend) waitDownload(h backend.Handle) {
	b.mu.Lock()
	ch := b.downloads[key(h)]
	b.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// download fetches the whole file into the cache, once, however many
// goroutines ask for it at the same time.
func (b *Backend) download(ctx context.Context, h backend.Handle) error {
	k := key(h)
	b.mu.Lock()
	if ch := b.downloads[k]; ch != nil {
		b.mu.Unlock()
		<-ch
		return nil
	}
	ch := make(chan struct{})
	b.downloads[k] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.downloads, k)
		b.mu.Unlock()
		close(ch)
	}()
	if b.c.Has(h) {
		return nil
	}
	err := b.Backend.Load(ctx, h, 0, 0, func(rd io.Reader) error { return b.c.store(h, rd) })
	if err != nil {
		_, _ = b.c.remove(h)
		if backend.IsNotExist(err) || ctx.Err() != nil {
			return err
		}
		return nil // the caller falls back to reading from the backend
	}
	return nil
}

// Stat asks the backend; a file the backend no longer has leaves the cache.
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	fi, err := b.Backend.Stat(ctx, h)
	if backend.IsNotExist(err) {
		_, _ = b.c.remove(h)
	}
	return fi, err
}

// Remove deletes the file from the backend, then from the cache.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := b.Backend.Remove(ctx, h); err != nil {
		return err
	}
	_, err := b.c.remove(h)
	return err
}

// List lists the backend; after a complete listing of a cached kind, cached
// files that the backend no longer has are removed from the cache.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if !cacheable(t) {
		return b.Backend.List(ctx, t, fn)
	}
	seen := map[string]bool{}
	err := b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
		seen[fi.Name] = true
		return fn(fi)
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_ = b.c.clear(t, seen) // a stale cached file is harmless; the next List retries
	return nil
}
