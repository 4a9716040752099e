// Package limiter wraps a Backend so that uploads and downloads stay under
// a byte rate, as restic's --limit-upload and --limit-download do.
//
// A token bucket per direction holds up to one second of bytes; a reader
// or writer takes tokens for what it moves and sleeps when the bucket is
// empty. Rates are in bytes per second; zero means unlimited.
package limiter

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/arca-backup/arca/backend"
)

// clock lets tests replace time.
type clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bucket is a token bucket of bytes, shared by all transfers in one direction.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	tokens float64
	last   time.Time
	clock  clock
}

func newBucket(rate int64, c clock) *bucket {
	return &bucket{rate: float64(rate), tokens: float64(rate), last: c.Now(), clock: c}
}

// reserve takes n bytes and returns how long the caller must wait before
// moving them.
func (b *bucket) reserve(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.rate {
		b.tokens = b.rate
	}
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// wait blocks until n bytes may be moved.
func (b *bucket) wait(ctx context.Context, n int) error {
	if d := b.reserve(n); d > 0 {
		return b.clock.Sleep(ctx, d)
	}
	return nil
}

// chunk bounds how many bytes one Read moves, so waits stay short.
const chunk = 32 * 1024

type limitedReader struct {
	ctx context.Context
	rd  io.Reader
	b   *bucket
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if len(p) > chunk {
		p = p[:chunk]
	}
	n, err := l.rd.Read(p)
	if n > 0 {
		if werr := l.b.wait(l.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

type limitedRewindReader struct {
	limitedReader
	rr backend.RewindReader
}

func (l *limitedRewindReader) Rewind() error { return l.rr.Rewind() }
func (l *limitedRewindReader) Length() int64 { return l.rr.Length() }

// Backend limits the rates of another backend.
type Backend struct {
	backend.Backend
	up, down *bucket
}

// Wrap returns be limited to upload and download bytes per second (0: no
// limit). It returns be itself when both are zero.
func Wrap(be backend.Backend, upload, download int64) backend.Backend {
	return wrap(be, upload, download, realClock{})
}

func wrap(be backend.Backend, upload, download int64, c clock) backend.Backend {
	if upload <= 0 && download <= 0 {
		return be
	}
	l := &Backend{Backend: be}
	if upload > 0 {
		l.up = newBucket(upload, c)
	}
	if download > 0 {
		l.down = newBucket(download, c)
	}
	return l
}

// Unwrap returns the wrapped backend.
func (l *Backend) Unwrap() backend.Backend { return l.Backend }

// Save uploads at most at the upload rate.
func (l *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if l.up == nil {
		return l.Backend.Save(ctx, h, rd)
	}
	return l.Backend.Save(ctx, h, &limitedRewindReader{limitedReader{ctx, rd, l.up}, rd})
}

// Load downloads at most at the download rate.
func (l *Backend) Load(ctx context.Context, h backend.Handle, length int, offset int64, fn func(rd io.Reader) error) error {
	if l.down == nil {
		return l.Backend.Load(ctx, h, length, offset, fn)
	}
	return l.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(&limitedReader{ctx, rd, l.down})
	})
}
