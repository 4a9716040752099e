// Package writegate wraps a Backend so that its writes wait for a decision:
// a command can read the repository (index, snapshots, trees) while its
// lock is still being confirmed, and any file it wants to store or remove
// in that time waits until the lock is granted (Open) or fails with the
// lock's error (Fail). Lock files pass through: the lock itself is what
// is being decided.
package writegate

import (
	"context"
	"fmt"
	"sync"

	"github.com/arca-backup/arca/backend"
)

// Backend is a backend whose writes wait for the gate.
type Backend struct {
	backend.Backend

	once sync.Once
	done chan struct{}
	err  error // set before done is closed
}

// Wrap returns be behind a closed gate.
func Wrap(be backend.Backend) *Backend {
	return &Backend{Backend: be, done: make(chan struct{})}
}

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() backend.Backend { return b.Backend }

// Open lets writes through. Only the first call of Open or Fail counts.
func (b *Backend) Open() { b.decide(nil) }

// Fail makes waiting and later writes return err (which must not be nil).
func (b *Backend) Fail(err error) {
	if err == nil {
		panic("writegate: Fail(nil)")
	}
	b.decide(err)
}

func (b *Backend) decide(err error) {
	b.once.Do(func() {
		b.err = err
		close(b.done)
	})
}

// wait blocks writes of anything but lock files until the gate is decided.
func (b *Backend) wait(ctx context.Context, h backend.Handle) error {
	if h.Type == backend.LockFile {
		return nil
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if b.err != nil {
		return fmt.Errorf("write %v: %w", h, b.err)
	}
	return nil
}

// Save stores the file once the gate is open.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	if err := b.wait(ctx, h); err != nil {
		return err
	}
	return b.Backend.Save(ctx, h, rd)
}

// Remove deletes the file once the gate is open.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := b.wait(ctx, h); err != nil {
		return err
	}
	return b.Backend.Remove(ctx, h)
}

// Create prepares a new repository once the gate is open.
func (b *Backend) Create(ctx context.Context) error {
	if err := b.wait(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil {
		return err
	}
	return b.Backend.Create(ctx)
}
